#!/usr/bin/env bash
# The operator: sign in as the admin, give a colleague a role, answer a ticket and a support chat,
# announce, work the reports queue, ban and unban, read the audit log and the stats.
set -euo pipefail
. "$(dirname "$0")/lib.sh"   # API, json, RUN, and the helpers curl, field, code_for, sign_up, expect_status
# The admin the server was started with (ADMIN_USERNAME=root ADMIN_PASSWORD='a long admin passphrase')
ADMIN_USERNAME=${ADMIN_USERNAME:-root}
ADMIN_PASSWORD=${ADMIN_PASSWORD:-a long admin passphrase}

# Users to serve (01-accounts.sh shows the steps): Carol files a ticket, opens a support chat, and
# reports Mallory; Dana is a colleague
ACCOUNT=$(sign_up carol); CAROL=$(echo "$ACCOUNT" | field accessToken)
ACCOUNT=$(sign_up mallory); MALLORY_ID=$(echo "$ACCOUNT" | field user.id)
ACCOUNT=$(sign_up dana); DANA_ID=$(echo "$ACCOUNT" | field user.id)
TICKET=$(curl -s $API/feedback -H "authorization: Bearer $CAROL" -H "$json" \
  -d '{"category":"bug","subject":"Photos do not load","body":"Since this morning, on every chat."}' | field id)
CONV=$(curl -s -X POST $API/support -H "authorization: Bearer $CAROL" | field conversation.id)
curl -s $API/message -H "authorization: Bearer $CAROL" -H "$json" \
  -d "{\"conversationId\":\"$CONV\",\"clientId\":\"s-1\",\"type\":\"text\",\"body\":\"Hello, I cannot change my avatar.\"}"
REPORT=$(curl -s $API/reports -H "authorization: Bearer $CAROL" -H "$json" -d "{\"userId\":\"$MALLORY_ID\",\"reason\":\"spam\"}" | field id)

# 1. Sign in as the admin: an account without an email or phone gets its tokens from the password alone
ADMIN=$(curl -s $API/auth/login -H "$json" \
  -d "{\"identifier\":\"$ADMIN_USERNAME\",\"password\":\"$ADMIN_PASSWORD\"}" | field accessToken)
#    Give a colleague a role (user, support or admin)
curl -s -X PUT $API/admin/users/$DANA_ID/role -H "authorization: Bearer $ADMIN" -H "$json" -d '{"role":"support"}'

# 2. Answer tickets: list the open ones, reply (the author gets feedback.replied), close
curl -s "$API/admin/feedback?status=open" -H "authorization: Bearer $ADMIN"
curl -s $API/admin/feedback/$TICKET/replies -H "authorization: Bearer $ADMIN" -H "$json" -d '{"body":"Fixed in today’s release."}'
curl -s -X PATCH $API/admin/feedback/$TICKET -H "authorization: Bearer $ADMIN" -H "$json" -d '{"status":"closed"}'

# 3. Answer support chats: the queue shows who waits longest and what is unread; claim one, read it,
#    answer (or use /message and the socket, as in any conversation, once you are in it)
curl -s "$API/admin/support?assignee=none" -H "authorization: Bearer $ADMIN"
curl -s -X POST $API/admin/support/$CONV/claim -H "authorization: Bearer $ADMIN"
curl -s $API/admin/support/$CONV/messages -H "authorization: Bearer $ADMIN"
curl -s $API/admin/support/$CONV/messages -H "authorization: Bearer $ADMIN" -H "$json" -d '{"clientId":"a-1","body":"Hi, I am looking into it."}'

# 4. Announce: reaches every connected socket now; add startsAt/endsAt to schedule, DELETE to withdraw
ANNOUNCEMENT=$(curl -s $API/admin/announcements -H "authorization: Bearer $ADMIN" -H "$json" \
  -d '{"title":"Maintenance tonight","body":"02:00–02:30 UTC"}' | field id)
curl -s -X DELETE $API/admin/announcements/$ANNOUNCEMENT -H "authorization: Bearer $ADMIN"

# 5. Reports and bans: a ban signs the user out everywhere at once (sockets closed with 4401)
curl -s $API/admin/reports -H "authorization: Bearer $ADMIN"                          # open reports
curl -s $API/admin/reports/$REPORT/actions -H "authorization: Bearer $ADMIN" -H "$json" \
  -d '{"action":"ban","reason":"spam"}'                                               # or dismiss, delete_message
curl -s -X DELETE $API/admin/users/$MALLORY_ID/ban -H "authorization: Bearer $ADMIN"   # lifts the ban
curl -s $API/admin/users/$MALLORY_ID/ban -H "authorization: Bearer $ADMIN" -H "$json" -d '{"reason":"spam again"}'   # bans directly

# 6. Everything staff do is in the audit log, newest first; the stats sum up the service
curl -s "$API/admin/audit?limit=5" -H "authorization: Bearer $ADMIN"
curl -s $API/admin/stats -H "authorization: Bearer $ADMIN"
