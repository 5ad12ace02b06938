#!/usr/bin/env bash
# Accounts and sign-in: sign up, verify, refresh, two-step and passwordless sign-in, profile, search,
# blocking, sessions, logout, password reset.
set -euo pipefail
. "$(dirname "$0")/lib.sh"   # API, json, RUN, and the helpers curl, field, code_for, sign_up, expect_status

# 1. Sign up with an email and/or a phone in E.164 ("phone":"+14155550123"); a code goes to the email,
#    else the phone. 201 {user, challenge: {challengeId, channel, destination, expiresAt}}
ALICE_EMAIL=alice_$RUN@example.com
CHALLENGE=$(curl -s $API/auth/register -H "$json" \
  -d "{\"username\":\"alice_$RUN\",\"password\":\"correct horse battery\",\"email\":\"$ALICE_EMAIL\"}" | field challenge.challengeId)

# 2. Verify with the code from the mail (on the embedded defaults: the server log). 200, a token pair:
#    {accessToken, refreshToken, tokenType: "Bearer", expiresIn: 900, user}
TOKENS=$(curl -s $API/auth/verify-otp -H "$json" \
  -d "{\"challengeId\":\"$CHALLENGE\",\"code\":\"$(code_for $ALICE_EMAIL)\",\"deviceName\":\"laptop\"}")
ACCESS=$(echo "$TOKENS" | field accessToken)
REFRESH=$(echo "$TOKENS" | field refreshToken)

# 3. Use the access token; refresh before it expires (the refresh token rotates on every use)
curl -s $API/users/me -H "authorization: Bearer $ACCESS"
TOKENS=$(curl -s $API/auth/refresh -H "$json" -d "{\"refreshToken\":\"$REFRESH\"}")
ACCESS=$(echo "$TOKENS" | field accessToken)
REFRESH=$(echo "$TOKENS" | field refreshToken)

# 4. On another device: two-step login, the password and then a code to the verified contact.
#    200 {otpRequired: true, challenge}; with AUTH_LOGIN_OTP=false it answers the token pair at once.
CHALLENGE=$(curl -s $API/auth/login -H "$json" \
  -d "{\"identifier\":\"alice_$RUN\",\"password\":\"correct horse battery\"}" | field challenge.challengeId)
PHONE_REFRESH=$(curl -s $API/auth/verify-otp -H "$json" \
  -d "{\"challengeId\":\"$CHALLENGE\",\"code\":\"$(code_for $ALICE_EMAIL)\",\"deviceName\":\"phone\"}" | field refreshToken)

# 5. Passwordless: a code to a verified email or phone (202 {challenge}). A resend within
#    OTP_RESEND_INTERVAL_SECONDS (30) of the last send is refused: 429 OTP_RESEND_TOO_SOON with retryAfter.
CHALLENGE=$(curl -s $API/auth/otp -H "$json" -d "{\"email\":\"$ALICE_EMAIL\"}" | field challenge.challengeId)
expect_status 429 curl -s $API/auth/resend-otp -H "$json" -d "{\"challengeId\":\"$CHALLENGE\"}"
curl -s $API/auth/verify-otp -H "$json" \
  -d "{\"challengeId\":\"$CHALLENGE\",\"code\":\"$(code_for $ALICE_EMAIL)\",\"deviceName\":\"tablet\"}" >/dev/null

# 6. Profile, search, blocking. Bob signs up as Alice did (sign_up: steps 1 and 2).
curl -s -X PATCH $API/users/me -H "authorization: Bearer $ACCESS" -H "$json" -d '{"displayName":"Alice","about":"hi"}'
BOB_ID=$(sign_up bob | field user.id)
curl -s "$API/users?q=bob_$RUN&limit=20" -H "authorization: Bearer $ACCESS"   # the start of a username or display name
curl -s -X POST $API/users/$BOB_ID/block -H "authorization: Bearer $ACCESS"   # 204; now neither finds the other
curl -s $API/users/me/blocks -H "authorization: Bearer $ACCESS"
curl -s -X DELETE $API/users/$BOB_ID/block -H "authorization: Bearer $ACCESS"

# 7. Sessions: laptop, phone and tablet. Sign the phone out by its refresh token, then every device by
#    an access token (this one included: its token stops working at once).
curl -s $API/auth/sessions -H "authorization: Bearer $ACCESS"
curl -s -X POST $API/auth/logout -H "$json" -d "{\"refreshToken\":\"$PHONE_REFRESH\"}"   # 204, this device
curl -s -X POST $API/auth/logout-all -H "authorization: Bearer $ACCESS"                   # 204, every device
expect_status 401 curl -s $API/users/me -H "authorization: Bearer $ACCESS"               # SESSION_REVOKED

# 8. Forgotten password: always 202; the code goes to the account's verified contact. 204, and every
#    session of the account ends; then sign in with the new password.
CHALLENGE=$(curl -s $API/auth/forgot-password -H "$json" -d "{\"identifier\":\"$ALICE_EMAIL\"}" | field challenge.challengeId)
curl -s $API/auth/reset-password -H "$json" \
  -d "{\"challengeId\":\"$CHALLENGE\",\"code\":\"$(code_for $ALICE_EMAIL)\",\"newPassword\":\"a new long passphrase\"}"
curl -s $API/auth/login -H "$json" -d "{\"identifier\":\"alice_$RUN\",\"password\":\"a new long passphrase\"}"
