# Helpers for the Twenty scenarios (sourced after tests/lib.sh): the fake
# Twenty, a syncrelay config, webhooks in, and polling the fake's state.
# Not a scenario itself (scenarios are test_*.sh).

TWENTY_KEY=twenty-test-key
TWENTY_SECRET=twenty-webhook-secret
SUPABASE_SECRET=supabase-test-secret

# start_fake_twenty [args]: sets TWENTY_PORT, TWENTY_URL (webhooks go to
# syncrelay's port RELAY_PORT, which must be chosen first).
start_fake_twenty() {
    local pf="$TEST_TMP/twenty.port"
    /usr/bin/python3 "$REPO_DIR/tests/fakes/fake_twenty.py" --port-file "$pf" \
        --api-key "$TWENTY_KEY" --webhook-secret "$TWENTY_SECRET" \
        --webhook-url "http://127.0.0.1:$RELAY_PORT/v1/webhooks/twenty" "$@" \
        >"$TEST_TMP/fake_twenty.log" 2>&1 &
    LIB_PIDS+=("$!")
    wait_for test -s "$pf"
    TWENTY_PORT=$(cat "$pf")
    TWENTY_URL="http://127.0.0.1:$TWENTY_PORT"
}

# write_relay_config FILE [extra yaml]: twenty + sqlite sinks, fast retries,
# the default retry.max_attempts (12): rate-limit pacing must not cost attempts.
write_relay_config() {
    cat >"$1" <<YAML
http:
  listen: "127.0.0.1:$RELAY_PORT"
redis:
  url: "$REDIS_URL"
twenty:
  url: "$TWENTY_URL"
  api_key: "$TWENTY_KEY"
  secret: "$TWENTY_SECRET"
  rate_limit_per_min: ${TWENTY_RATE:-6000}
  workers: 1
supabase:
  secret: "$SUPABASE_SECRET"
sqlite:
  path: "$TEST_TMP/relay.db"
workers:
  batch_size: 20
retry:
  base_ms: 100
  cap_ms: 1000
log:
  level: ${RELAY_LOG_LEVEL:-info}
${2:-}
YAML
}

# start_relay: sets RELAY_PID; waits for /healthz.
start_relay() {
    write_relay_config "$TEST_TMP/relay.yaml" "${1:-}"
    "$SYNCRELAY_BIN" --config "$TEST_TMP/relay.yaml" serve >"$TEST_TMP/relay.log" 2>&1 &
    RELAY_PID=$!
    LIB_PIDS+=("$RELAY_PID")
    wait_for curl -sf "http://127.0.0.1:$RELAY_PORT/healthz"
}

# post_supabase FILE: prints the HTTP status.
post_supabase() {
    curl -s -o "$TEST_TMP/last_answer" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H "X-Syncrelay-Secret: $SUPABASE_SECRET" \
        --data-binary @"$1" "http://127.0.0.1:$RELAY_PORT/v1/webhooks/supabase"
}

# twenty_ctl METHOD PATH [BODY]: a control call to the fake; prints the answer.
twenty_ctl() {
    curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
        "$TWENTY_URL/_control/$2"
}

# twenty_py EXPR: evaluates a Python expression over R (records), S (stats)
# and W (webhooks) of the fake; prints the result.
twenty_py() {
    /usr/bin/python3 - "$TWENTY_URL" "$1" <<'PY'
import json, sys, urllib.request
base, expr = sys.argv[1], sys.argv[2]
get = lambda p: json.load(urllib.request.urlopen(base + "/_control/" + p))
R, S, W = get("records")["records"], get("stats"), get("webhooks")
by = {r.get("contactId"): r for r in R}
print(eval(expr))
PY
}

# wait_twenty EXPR: waits (10 s) until twenty_py EXPR prints True.
wait_twenty() {
    local i
    for i in $(seq 1 100); do
        [ "$(twenty_py "$1")" = "True" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $1 (now: $(twenty_py "$1"))" >&2
    return 1
}

# supabase_body TYPE CHANGES_JSON [FIXTURE]: a Supabase webhook body derived
# from the fixture, with record (and old_record for UPDATE) adjusted:
# CHANGES_JSON = {"record": {...}, "old_record": {...}} merged in.
supabase_body() {
    /usr/bin/python3 - "$RELAY_FIXTURES/supabase/${3:-contacts.update.json}" "$1" "$2" <<'PY'
import json, sys
body = json.load(open(sys.argv[1]))
body["type"] = sys.argv[2]
for key, change in json.loads(sys.argv[3]).items():
    if body.get(key) is None:
        body[key] = dict(body.get("record") or body.get("old_record"))
    body[key].update(change)
print(json.dumps(body))
PY
}
