#!/usr/bin/env bash
# Conversations and messages: a 1:1 chat, the inbox, history and receipts; a group with a reply that
# mentions, a reaction, a pin, an edit, and a search that finds what was sent; offline sync.
set -euo pipefail
. "$(dirname "$0")/lib.sh"   # API, json, RUN, and the helpers curl, field, code_for, sign_up, expect_status

# Alice and Bob sign up (01-accounts.sh shows the steps); each keeps an access token and their id
ACCOUNT=$(sign_up alice); ALICE=$(echo "$ACCOUNT" | field accessToken); ALICE_ID=$(echo "$ACCOUNT" | field user.id)
ACCOUNT=$(sign_up bob); BOB=$(echo "$ACCOUNT" | field accessToken); BOB_ID=$(echo "$ACCOUNT" | field user.id)

# Alice opens a 1:1 chat with Bob (201 the first time, 200 after), sends, and Bob reads
CHAT=$(curl -s $API/chat/direct -H "authorization: Bearer $ALICE" -H "$json" -d "{\"userId\":\"$BOB_ID\"}" | field id)
curl -s $API/message -H "authorization: Bearer $ALICE" -H "$json" \
  -d "{\"conversationId\":\"$CHAT\",\"clientId\":\"c-1\",\"type\":\"text\",\"body\":\"hi Bob\"}"   # 201 {seq: 1, ...}; again: 200, same message
curl -s "$API/chat?limit=20" -H "authorization: Bearer $BOB"                  # inbox: unreadCount 1, lastMessage
curl -s "$API/message/chat/$CHAT?limit=50" -H "authorization: Bearer $BOB"    # newest page, ascending seq
curl -s $API/chat/$CHAT/read -H "authorization: Bearer $BOB" -H "$json" -d '{"seq":1}'

# Bob's phone goes offline here. It keeps a sync token: GET /sync without since answers a snapshot
# (his conversations, as GET /chat shows them) and the token
TOKEN=$(curl -s $API/sync -H "authorization: Bearer $BOB" | field nextToken)

# A group; Alice asks, Bob replies to her message and mentions her, then reacts to it
GROUP=$(curl -s $API/chat/groups -H "authorization: Bearer $ALICE" -H "$json" \
  -d "{\"title\":\"Trip\",\"memberIds\":[\"$BOB_ID\"]}" | field id)
MESSAGE_ID=$(curl -s $API/message -H "authorization: Bearer $ALICE" -H "$json" \
  -d "{\"conversationId\":\"$GROUP\",\"clientId\":\"g-1\",\"type\":\"text\",\"body\":\"Who brings the tent?\"}" | field id)
curl -s $API/message -H "authorization: Bearer $BOB" -H "$json" \
  -d "{\"conversationId\":\"$GROUP\",\"clientId\":\"g-2\",\"type\":\"text\",\"body\":\"@Alice I do\",\"replyToId\":\"$MESSAGE_ID\",\"mentions\":[\"$ALICE_ID\"]}"
curl -s -X PUT "$API/message/$MESSAGE_ID/reactions/%F0%9F%91%8D" -H "authorization: Bearer $BOB"   # 👍, URL-encoded

# Alice pins her question and edits it (within MESSAGE_EDIT_WINDOW_SECONDS); the old body is a version
curl -s -X POST $API/message/$MESSAGE_ID/pin -H "authorization: Bearer $ALICE"
curl -s -X PATCH $API/message/$MESSAGE_ID -H "authorization: Bearer $ALICE" -H "$json" -d '{"body":"Who brings the tent and the stove?"}'
curl -s $API/message/$MESSAGE_ID/versions -H "authorization: Bearer $ALICE"

# Full-text search over the messages you can see (whole words, all must match), newest first
curl -s "$API/message/search?q=tent%20stove" -H "authorization: Bearer $BOB" | field items.0.body   # Who brings the tent and the stove?

# Bob's phone is back: everything that changed since its token, in seq order per conversation, as the
# socket's events (conversation.joined for the new group, the messages, the reaction, the pin, the edit)
SYNC=$(curl -s "$API/sync?since=$TOKEN&limit=100" -H "authorization: Bearer $BOB")
echo "$SYNC" | field items.0.type    # conversation.joined
echo "$SYNC" | field more            # false: nothing else waits; store nextToken for next time
TOKEN=$(echo "$SYNC" | field nextToken)
