#!/usr/bin/env bash
# Push notifications: the key a browser subscribes with, registering its subscription, what a group
# pushes (notify: mentions), do not disturb, and the guard against endpoints inside your network.
set -euo pipefail
. "$(dirname "$0")/lib.sh"   # API, json, RUN, and the helpers curl, field, code_for, sign_up, expect_status

ACCOUNT=$(sign_up carol); CAROL=$(echo "$ACCOUNT" | field accessToken); CAROL_ID=$(echo "$ACCOUNT" | field user.id)
ACCOUNT=$(sign_up dan); DAN=$(echo "$ACCOUNT" | field accessToken)

# The VAPID public key for PushManager.subscribe({applicationServerKey}) (no sign-in needed)
curl -s $API/push/vapid-key | field publicKey

# Carol's browser subscribed and hands the app PushSubscription.toJSON(); here node makes the keys a
# browser would (a P-256 key and a 16-byte secret) for an endpoint of a public push service
SUBSCRIPTION=$(node -e '
  const ecdh = require("node:crypto").createECDH("prime256v1"); ecdh.generateKeys();
  const auth = require("node:crypto").randomBytes(16).toString("base64url");
  console.log(JSON.stringify({ endpoint: "https://push.example.net/send/" + Date.now(), keys: { p256dh: ecdh.getPublicKey("base64url"), auth } }));')
DEVICE=$(curl -s $API/push/devices -H "authorization: Bearer $CAROL" -H "$json" \
  -d "{\"platform\":\"webpush\",\"subscription\":$SUBSCRIPTION,\"locale\":\"en\"}" | field id)
curl -s $API/push/devices -H "authorization: Bearer $CAROL" | field items.0.current   # true: this session's device

# Dan's busy group: Carol wants pushes only for mentions of her and replies to her messages
GROUP=$(curl -s $API/chat/groups -H "authorization: Bearer $DAN" -H "$json" \
  -d "{\"title\":\"Club\",\"memberIds\":[\"$CAROL_ID\"]}" | field id)
curl -s -X PATCH $API/chat/$GROUP/settings -H "authorization: Bearer $CAROL" -H "$json" -d '{"notify":"mentions"}' | field notify   # mentions

# At night, nothing at all for 8 hours (on every device of hers); null ends it early
UNTIL=$(node -e 'console.log(new Date(Date.now() + 8 * 3600e3).toISOString())')
curl -s -X PATCH $API/users/me/notifications -H "authorization: Bearer $CAROL" -H "$json" -d "{\"dndUntil\":\"$UNTIL\"}"
curl -s -X PATCH $API/users/me/notifications -H "authorization: Bearer $CAROL" -H "$json" -d '{"dndUntil":null,"preview":false}'   # and no text in her pushes

# An endpoint inside the operator's network is refused (no requests go there)
expect_status 400 curl -s $API/push/devices -H "authorization: Bearer $CAROL" -H "$json" \
  -d "{\"platform\":\"webpush\",\"subscription\":{\"endpoint\":\"https://10.0.0.7/push\",\"keys\":$(echo "$SUBSCRIPTION" | field keys)}}"   # PUSH_ENDPOINT_REFUSED

# The device ends with the session (logout) or when deleted
curl -s -X DELETE $API/push/devices/$DEVICE -H "authorization: Bearer $CAROL" -o /dev/null -w '%{http_code}'   # 204
