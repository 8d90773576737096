#!/usr/bin/env bash
# Logs (issue 8): `serve --role receiver` at log.level debug.
#  1. log.format json: every line is one JSON object with ts, level,
#     component and msg; every request line carries its own request id
#     (req, unique per request) and, once the webhook is mapped, the event
#     id (event, = the id in the answer).
#  2. No secret reaches the log: not the configured secrets, not a wrong
#     secret a client sent, not a signature header, not an API key; nor
#     the check-config output.
#  3. log.format logfmt (SYNCRELAY_LOG_FORMAT): key="value" lines with req.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${SYNCRELAY_BIN:?SYNCRELAY_BIN not set}
FIX=${RELAY_FIXTURES:?RELAY_FIXTURES not set}

lib_init
start_redis
HTTP_PORT=$(free_port)
URL="http://127.0.0.1:$HTTP_PORT"
CONF="$TEST_TMP/relay.yaml"
TW_SECRET="tw-SECRET-7f3a9c1e55d0"
SB_SECRET="sb-SECRET-0b8d2e4f6a19"
WRONG="client-WRONG-guess-4c2d9e"
API_KEY="twenty-APIKEY-91e0c3b7"
cat >"$CONF" <<EOF
http: {listen: "127.0.0.1:$HTTP_PORT", threads: 2}
redis: {url: "$REDIS_URL", prefix: "lg"}
twenty: {secret: "$TW_SECRET", url: "http://127.0.0.1:1", api_key: "$API_KEY"}
supabase: {secret: "$SB_SECRET"}
sqlite: {path: "$TEST_TMP/unused.db"}
log: {level: debug, format: json}
EOF

start_relay() { # start_relay LOGFILE [env...]
    local log=$1
    shift
    env "$@" "$BIN" --config "$CONF" serve --role receiver 2>"$log" &
    RELAY_PID=$!
    LIB_PIDS+=("$RELAY_PID")
    wait_for curl -sf "$URL/healthz" || fail "relay did not start: $(cat "$log")"
}
stop_relay() {
    kill -TERM "$RELAY_PID"
    wait "$RELAY_PID" || fail "serve exited with $?"
}
post() { # post SOURCE FILE [curl args]: sets STATUS, appends the answer to answers
    local src=$1 file=$2
    shift 2
    STATUS=$(curl -s -o "$TEST_TMP/answer" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @"$file" "$@" "$URL/v1/webhooks/$src")
    cat "$TEST_TMP/answer" >>"$TEST_TMP/answers"
    echo >>"$TEST_TMP/answers"
}
traffic() {
    local ts sig
    post supabase "$FIX/supabase/contacts.insert.json" -H "X-Syncrelay-Secret: $SB_SECRET"
    assert_eq 202 "$STATUS" "supabase"
    post supabase "$FIX/supabase/contacts.update.json" -H "X-Syncrelay-Secret: $WRONG"
    assert_eq 401 "$STATUS" "supabase, wrong secret"
    post supabase "$FIX/supabase/contacts.update.json" -H "X-Syncrelay-Secret: $TW_SECRET"
    assert_eq 401 "$STATUS" "supabase, another secret"
    read -r ts sig < <(python3 "$HERE/sign.py" twenty "$TW_SECRET" "$FIX/twenty/person.created.json")
    SIG_OK=$sig
    post twenty "$FIX/twenty/person.created.json" -H "X-Twenty-Webhook-Timestamp: $ts" \
        -H "X-Twenty-Webhook-Signature: $sig"
    assert_eq 202 "$STATUS" "twenty"
    read -r ts sig < <(python3 "$HERE/sign.py" twenty "$WRONG" "$FIX/twenty/person.updated.json")
    SIG_BAD=$sig
    post twenty "$FIX/twenty/person.updated.json" -H "X-Twenty-Webhook-Timestamp: $ts" \
        -H "X-Twenty-Webhook-Signature: $sig"
    assert_eq 401 "$STATUS" "twenty, bad signature"
    post twenty "$FIX/twenty/person.updated.json" -H "X-Twenty-Webhook-Timestamp: $ts" \
        -H "X-Twenty-Webhook-Signature: $TW_SECRET"
    assert_eq 401 "$STATUS" "twenty, the secret as signature"
    curl -sf "$URL/metrics" >/dev/null || fail "metrics"
}
no_secrets() { # no_secrets FILE WHAT
    local s
    for s in "$TW_SECRET" "$SB_SECRET" "$WRONG" "$API_KEY" "$SIG_OK" "$SIG_BAD"; do
        ! grep -qF -- "$s" "$1" || fail "$2 contains a secret: $(grep -F -- "$s" "$1" | head -1)"
    done
}

# 1 + 2: JSON lines
start_relay "$TEST_TMP/json.log"
traffic
stop_relay
no_secrets "$TEST_TMP/json.log" "the JSON log"
python3 - "$TEST_TMP/json.log" "$TEST_TMP/answers" <<'PY' || fail "JSON log lines (see above)"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
answers = [json.loads(a) for a in open(sys.argv[2]).read().splitlines() if a.strip()]
ids = [a["id"] for a in answers if a.get("status") == "accepted"]
bad, reqs, events = [], [], []
for line in lines:
    try:
        o = json.loads(line)
    except ValueError:
        bad.append("not JSON: " + line)
        continue
    if not all(k in o for k in ("ts", "level", "component", "msg")):
        bad.append("missing keys: " + line)
    if o["msg"].startswith("request status="):
        if "req" not in o:
            bad.append("request line without req: " + line)
        reqs.append(o.get("req"))
        if o["msg"].startswith("request status=202"):
            events.append(o.get("event"))
if len(reqs) != 6 or len(set(reqs)) != 6:
    bad.append("want 6 request lines with distinct req ids, got %r" % reqs)
if events != ids:
    bad.append("event ids on accepted lines %r != answers %r" % (events, ids))
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
"$BIN" --config "$CONF" check-config >"$TEST_TMP/check.out" 2>&1 || fail "check-config"
no_secrets "$TEST_TMP/check.out" "check-config"

# 3: logfmt
redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
: >"$TEST_TMP/answers"
start_relay "$TEST_TMP/logfmt.log" SYNCRELAY_LOG_FORMAT=logfmt
traffic
stop_relay
no_secrets "$TEST_TMP/logfmt.log" "the logfmt log"
KV='[a-z_]+="([^"\\]|\\.)*"'
if grep -vEq "^$KV( $KV)*\$" "$TEST_TMP/logfmt.log"; then
    fail "not logfmt: $(grep -vE "^$KV( $KV)*\$" "$TEST_TMP/logfmt.log" | head -1)"
fi
assert_eq 6 "$(grep -cE '^ts="[^"]*" level="info" component="http" req="[0-9a-f]{10}" .*msg="request status=' \
    "$TEST_TMP/logfmt.log")" "logfmt request lines with req"
assert_eq 2 "$(grep -cE 'req="[0-9a-f]{10}" event="[0-9a-f]{16}" msg="request status=202' \
    "$TEST_TMP/logfmt.log")" "logfmt accepted lines with event"
echo "ok"
