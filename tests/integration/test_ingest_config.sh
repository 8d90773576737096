#!/usr/bin/env bash
# `syncrelay serve` refuses configs it cannot run safely, with a clear
# message and exit status 2: a bad Standard Webhooks secret, TLS that
# civetweb cannot provide. An empty twenty.secret starts (the embedded
# defaults must run) and refuses every Twenty webhook with 401; with
# allow_unsigned, unsigned Twenty webhooks are accepted. A port already in
# use is a runtime failure (exit 1).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
BIN=${SYNCRELAY_BIN:?SYNCRELAY_BIN not set}
FIX=${RELAY_FIXTURES:?RELAY_FIXTURES not set}

lib_init
start_redis
HTTP_PORT=$(free_port)
URL="http://127.0.0.1:$HTTP_PORT"

# write_conf EXTRA_YAML: a receiver config plus the given sections.
write_conf() {
    cat >"$TEST_TMP/relay.yaml" <<EOF
http:
  listen: "127.0.0.1:$HTTP_PORT"
  threads: 2
${HTTP_EXTRA:-}
redis:
  url: "$REDIS_URL"
sqlite:
  path: "$TEST_TMP/unused.db"
$1
EOF
}

# refused WHAT PATTERN: serve must exit 2 at once and name the problem.
refused() {
    timeout 10 "$BIN" --config "$TEST_TMP/relay.yaml" serve --role receiver \
        >"$TEST_TMP/out" 2>&1
    local status=$?
    assert_eq 2 "$status" "$1: exit status ($(cat "$TEST_TMP/out"))"
    grep -q "$2" "$TEST_TMP/out" || fail "$1: message does not say [$2]: $(cat "$TEST_TMP/out")"
}

write_conf 'twenty:
  secret: "s"
supabase:
  standard_webhook_secret: "whsec_not*base64"'
refused "bad standard secret" "supabase.standard_webhook_secret"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TEST_TMP/key.pem" -out "$TEST_TMP/crt.pem" \
    -days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1
cat "$TEST_TMP/crt.pem" "$TEST_TMP/key.pem" >"$TEST_TMP/cert.pem"
HTTP_EXTRA="  tls_cert: \"$TEST_TMP/cert.pem\"" write_conf 'twenty:
  secret: "s"'
"$BIN" --config "$TEST_TMP/relay.yaml" serve --role receiver >"$TEST_TMP/tls.log" 2>&1 &
TLS_PID=$!
sleep 1
if kill -0 "$TLS_PID" 2>/dev/null; then
    # civetweb has working TLS: HTTPS must answer (never crash).
    assert_eq 200 "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$HTTP_PORT/healthz")" \
        "healthz over TLS"
    kill -TERM "$TLS_PID"
    wait "$TLS_PID"
    assert_eq 0 "$?" "TLS relay exit status"
else
    wait "$TLS_PID"
    assert_eq 2 "$?" "TLS refused: exit status ($(cat "$TEST_TMP/tls.log"))"
    grep -q "http.tls_cert" "$TEST_TMP/tls.log" || fail "TLS refusal unclear: $(cat "$TEST_TMP/tls.log")"
fi

# No Twenty secret and no opt-in: serve starts, Twenty webhooks get 401.
write_conf 'twenty:
  secret: ""'
"$BIN" --config "$TEST_TMP/relay.yaml" serve --role receiver 2>"$TEST_TMP/relay0.log" &
RELAY0_PID=$!
wait_for curl -sf "$URL/healthz" || fail "relay without a Twenty secret did not start"
STATUS=$(curl -s -o "$TEST_TMP/answer" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$FIX/twenty/person.created.json" "$URL/v1/webhooks/twenty")
assert_eq 401 "$STATUS" "Twenty webhook without a configured secret"
grep -q "not configured" "$TEST_TMP/answer" || fail "401 reason unclear: $(cat "$TEST_TMP/answer")"
kill -TERM "$RELAY0_PID"
wait "$RELAY0_PID"
assert_eq 0 "$?" "exit status after SIGTERM (no Twenty secret)"

# allow_unsigned: Twenty webhooks without a signature are accepted.
write_conf 'twenty:
  secret: ""
  allow_unsigned: true
postgres:
  url: "postgresql://nobody@127.0.0.1:1/unused"'
"$BIN" --config "$TEST_TMP/relay.yaml" serve --role receiver 2>"$TEST_TMP/relay.log" &
RELAY_PID=$!
LIB_PIDS+=("$RELAY_PID")
wait_for curl -sf "$URL/healthz" || fail "relay did not start: $(cat "$TEST_TMP/relay.log")"
STATUS=$(curl -s -o "$TEST_TMP/answer" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$FIX/twenty/person.created.json" "$URL/v1/webhooks/twenty")
assert_eq 202 "$STATUS" "unsigned Twenty webhook with allow_unsigned ($(cat "$TEST_TMP/answer"))"
# Supabase without any secret configured: refused.
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$FIX/supabase/contacts.insert.json" "$URL/v1/webhooks/supabase")
assert_eq 401 "$STATUS" "Supabase without a configured secret"

# A second relay on the same port cannot bind: runtime failure, exit 1.
timeout 10 "$BIN" --config "$TEST_TMP/relay.yaml" serve --role receiver >"$TEST_TMP/out" 2>&1
assert_eq 1 "$?" "port in use: exit status ($(cat "$TEST_TMP/out"))"
grep -q "cannot start" "$TEST_TMP/out" || fail "port in use: unclear message"
kill -TERM "$RELAY_PID"
wait "$RELAY_PID"
assert_eq 0 "$?" "exit status after SIGTERM"
echo "PASS test_ingest_config"
