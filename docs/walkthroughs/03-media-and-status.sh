#!/usr/bin/env bash
# Media and status updates: upload a photo, read it by signed link, send it in a message, make it an
# avatar; post statuses, see them in a contact's feed, view, list viewers, delete.
set -euo pipefail
. "$(dirname "$0")/lib.sh"   # API, json, RUN, and the helpers curl, field, code_for, sign_up, expect_status
PHOTO=${PHOTO:-$(dirname "$0")/photo.jpg}   # any JPEG, PNG, GIF or WebP of yours

# Alice and Bob sign up (01-accounts.sh shows the steps) and share a 1:1 chat, which makes them contacts
ACCOUNT=$(sign_up alice); ALICE=$(echo "$ACCOUNT" | field accessToken)
ACCOUNT=$(sign_up bob); BOB=$(echo "$ACCOUNT" | field accessToken); BOB_ID=$(echo "$ACCOUNT" | field user.id)
CHAT=$(curl -s $API/chat/direct -H "authorization: Bearer $ALICE" -H "$json" -d "{\"userId\":\"$BOB_ID\"}" | field id)

# Alice uploads a photo: multipart/form-data, one file in the field "file". 201 the media resource
# {id, kind: "image", mime, size, sha256, width, height, url, thumbnailUrl, urlExpiresAt, ...}.
# url and thumbnailUrl are relative to the server's base URL: /api/v1/media/<id>?exp=…&sig=…
MEDIA=$(curl -s $API/media -H "authorization: Bearer $ALICE" -F "file=@$PHOTO")
MEDIA_ID=$(echo "$MEDIA" | field id)
URL=$(echo "$MEDIA" | field url)
THUMBNAIL_URL=$(echo "$MEDIA" | field thumbnailUrl)

# A signed link needs no Authorization header (for <img src>, players): prefix it with the base URL
curl -s "$BASE_URL$URL" -o /dev/null -w '%{http_code} %{content_type} %{size_download} bytes\n'
curl -s "$BASE_URL$THUMBNAIL_URL" -o /dev/null -w '%{http_code} %{content_type}\n'
# With a token: the file by id, one byte range at a time (206 Content-Range)
curl -s $API/media/$MEDIA_ID -H "authorization: Bearer $ALICE" -H 'range: bytes=0-99' -o /dev/null -w '%{http_code} %header{content-range}\n'

# Alice sends it to Bob with a caption; now Bob may read it too
curl -s $API/message -H "authorization: Bearer $ALICE" -H "$json" \
  -d "{\"conversationId\":\"$CHAT\",\"clientId\":\"p-1\",\"type\":\"image\",\"body\":\"the view\",\"attachments\":[\"$MEDIA_ID\"]}"
curl -s $API/media/$MEDIA_ID/info -H "authorization: Bearer $BOB"   # the media resource, fresh signed links

# An upload of yours as your avatar: avatarUrl becomes /api/v1/media/<id>, readable by every signed-in user
curl -s -X PATCH $API/users/me -H "authorization: Bearer $ALICE" -H "$json" -d "{\"avatarMediaId\":\"$MEDIA_ID\"}"

# Status updates: seen by contacts (a shared 1:1 chat) for STATUS_TTL_SECONDS (24 h)
STATUS_ID=$(curl -s $API/status -H "authorization: Bearer $ALICE" -H "$json" \
  -d '{"type":"text","body":"At the beach","backgroundColor":"#128C7E"}' | field id)
curl -s $API/status -H "authorization: Bearer $ALICE" -H "$json" \
  -d "{\"type\":\"image\",\"mediaId\":\"$MEDIA_ID\",\"body\":\"the view\",\"audience\":{\"only\":[\"$BOB_ID\"]}}"
curl -s $API/status -H "authorization: Bearer $BOB"                           # Bob's feed: Alice, her two statuses
curl -s -X POST $API/status/$STATUS_ID/view -H "authorization: Bearer $BOB"   # 204
curl -s $API/status/$STATUS_ID/viewers -H "authorization: Bearer $ALICE"      # Bob, when
curl -s $API/status/me -H "authorization: Bearer $ALICE"                      # with viewCount
curl -s -X DELETE $API/status/$STATUS_ID -H "authorization: Bearer $ALICE"    # 204
