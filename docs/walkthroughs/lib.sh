# Helpers the walkthroughs source (bash and curl, plus the node the server runs on; no jq).
#   BASE_URL    the server (default http://127.0.0.1:3000)
#   SERVER_LOG  the server's log, where the console providers print one-time codes (default ./server.log)
#   RUN         a suffix that keeps this run's usernames and addresses apart from earlier runs'

BASE_URL=${BASE_URL:-http://127.0.0.1:3000}
SERVER_LOG=${SERVER_LOG:-server.log}
RUN=${RUN:-$(node -e 'process.stdout.write(Date.now().toString(36))')}
API=$BASE_URL/api/v1
json='content-type: application/json'
WALK_STATE=$(mktemp -d)
trap 'rm -rf "$WALK_STATE"' EXIT

# Every curl of a walkthrough stops it on an HTTP error status, printing the problem+json body.
curl() { command curl --fail-with-body --show-error -w '\n' "$@"; }

# expect_status STATUS curl ARGS...: makes the request, prints the body, and stops the walkthrough
# unless the answer has that status (for answers that are meant to be errors).
expect_status() {
  local want=$1 out status
  shift 2
  out=$(command curl -sS -w '\n%{http_code}' "$@")
  status=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
  if [ "$status" != "$want" ]; then
    echo "expected HTTP $want, got $status" >&2
    return 1
  fi
}

# field PATH: prints one field of the JSON read from stdin (PATH: accessToken, user.id, items.0.id).
field() {
  node -e '
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
      let value = JSON.parse(text);
      for (const key of process.argv[1].split(".")) value = value?.[key];
      if (value === undefined || value === null) {
        console.error(`no ${process.argv[1]} in ${text}`);
        process.exit(1);
      }
      process.stdout.write(`${typeof value === "string" ? value : JSON.stringify(value)}\n`);
    });' "$1"
}

# code_for DESTINATION: the one-time code sent to that email address or phone number since the last
# call, read from $SERVER_LOG (waits up to 15 s for it). Without a log file, in a terminal, it asks you
# for the code (when SMTP_URL or SMS_PROVIDER=twilio really sent it).
code_for() {
  local seen_file="$WALK_STATE/$1" seen count waited=0
  if [ ! -f "$SERVER_LOG" ]; then
    if [ -t 0 ]; then
      read -r -p "code sent to $1: " count && echo "$count"
      return
    fi
    echo "no server log at $SERVER_LOG: start the server with 'npm start 2>&1 | tee server.log', or set SERVER_LOG" >&2
    return 1
  fi
  seen=$(cat "$seen_file" 2>/dev/null || echo 0)
  while count=$(grep -cF "\"to\":\"$1\"" "$SERVER_LOG" || true); [ "$count" -le "$seen" ]; do
    if [ "$waited" -ge 75 ]; then
      echo "no code for $1 in $SERVER_LOG after 15 s (is it the log of the server at $BASE_URL?)" >&2
      return 1
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  echo "$count" >"$seen_file"
  grep -F "\"to\":\"$1\"" "$SERVER_LOG" | tail -n 1 | grep -o '"text":"[^"]*' | grep -o '[0-9]\{6\}' | head -n 1
}

# sign_up NAME: registers NAME$RUN with NAME$RUN@example.com, verifies the code and prints the response
# (tokens and user), as 01-accounts.sh shows step by step.
sign_up() {
  local challenge
  challenge=$(curl -s "$API/auth/register" -H "$json" \
    -d "{\"username\":\"$1_$RUN\",\"password\":\"correct horse battery\",\"email\":\"$1_$RUN@example.com\"}" | field challenge.challengeId)
  curl -s "$API/auth/verify-otp" -H "$json" -d "{\"challengeId\":\"$challenge\",\"code\":\"$(code_for "$1_$RUN@example.com")\"}"
}
