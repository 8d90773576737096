#!/usr/bin/env bash
# Ingress end to end (issue 3): `syncrelay serve --role receiver` against a
# real redis-server. Every fixture is accepted and queued to the right
# sinks; ignored objects, redeliveries, echoes and stale changes are
# answered 200 and queue nothing; every bad request gets its status with
# Redis byte-for-byte unchanged; Redis down or paused answers 503 with
# Retry-After quickly, and Redis back means 202 again.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SIGN="python3 $HERE/sign.py"
BIN=${SYNCRELAY_BIN:?SYNCRELAY_BIN not set}
FIX=${RELAY_FIXTURES:?RELAY_FIXTURES not set}

lib_init
start_redis
P=syncrelay
HTTP_PORT=$(free_port)
URL="http://127.0.0.1:$HTTP_PORT"
CONF="$TEST_TMP/relay.yaml"
# Every sink enabled, so routing is visible: Twenty -> postgres, sqlite,
# bigquery; Supabase -> sqlite, bigquery, twenty. The receiver role never
# connects to the sinks.
cat >"$CONF" <<EOF
http:
  listen: "127.0.0.1:$HTTP_PORT"
  threads: 4
  body_limit_bytes: 65536
redis:
  url: "$REDIS_URL"
  timeout_ms: 1000
twenty:
  secret: "test-secret"
  url: "http://127.0.0.1:1"
  api_key: "unused"
supabase:
  secret: "sb-secret"
sqlite:
  path: "$TEST_TMP/unused.db"
postgres:
  url: "postgresql://nobody@127.0.0.1:1/unused"
bigquery:
  project: "unused"
  token: "unused"
EOF

"$BIN" --config "$CONF" serve --role receiver 2>"$TEST_TMP/relay.log" &
RELAY_PID=$!
LIB_PIDS+=("$RELAY_PID")
wait_for curl -sf "$URL/healthz" || fail "relay did not start: $(cat "$TEST_TMP/relay.log")"

rc() { redis-cli -p "$REDIS_PORT" "$@"; }
llen() { rc LLEN "$P:q:$1"; }

# post PATH BODY_FILE [curl args...]: sets STATUS, BODY (answer), HEADERS.
post() {
    local path=$1 file=$2
    shift 2
    curl -s -o "$TEST_TMP/answer" -D "$TEST_TMP/headers" -w '%{http_code}' \
        -H "Content-Type: ${CT-application/json}" --data-binary @"$file" "$@" "$URL$path" \
        >"$TEST_TMP/status"
    STATUS=$(cat "$TEST_TMP/status")
    BODY=$(cat "$TEST_TMP/answer")
    HEADERS=$(cat "$TEST_TMP/headers")
}

# post_twenty BODY_FILE [curl args...]: signed with a fresh timestamp.
post_twenty() {
    local file=$1 ts sig
    shift
    read -r ts sig < <($SIGN twenty test-secret "$file")
    post /v1/webhooks/twenty "$file" -H "X-Twenty-Webhook-Timestamp: $ts" \
        -H "X-Twenty-Webhook-Signature: $sig" "$@"
}

post_supabase() {
    local file=$1
    shift
    post /v1/webhooks/supabase "$file" -H "X-Syncrelay-Secret: sb-secret" "$@"
}

# answer KEY: a key of the last JSON answer (lists joined by ",").
answer() {
    python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]);
print(",".join(v) if isinstance(v, list) else ("" if v is None else v))' "$BODY" "$1"
}

# expect STATUS STATE WHAT
expect() {
    assert_eq "$1" "$STATUS" "$3: status (answer $BODY)"
    assert_eq "$2" "$(answer status)" "$3: answer status"
}

# snapshot: every key and its DUMP, hex, sorted (TTLs excluded).
snapshot() {
    local k
    for k in $(rc --scan | sort); do
        printf '%s ' "$k"
        rc --raw DUMP "$k" | od -An -tx1 | tr -d ' \n'
        echo
    done
}

# envelope SINK FIELD: a field of the newest event on P:q:SINK.
envelope() {
    rc --raw LINDEX "$P:q:$1" 0 | python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]];
print(",".join(v) if isinstance(v, list) else v)' "$2"
}

# ---- every fixture accepted, routed, enveloped ----
accept_twenty() { # FIXTURE OP
    local before_pg before_tw
    before_pg=$(llen postgres)
    before_tw=$(llen twenty)
    post_twenty "$FIX/twenty/$1.json"
    expect 202 accepted "twenty $1"
    assert_eq "postgres,sqlite,bigquery" "$(answer queued)" "twenty $1: queued"
    assert_eq $((before_pg + 1)) "$(llen postgres)" "twenty $1: postgres queue"
    assert_eq "$before_tw" "$(llen twenty)" "twenty $1: nothing back to twenty"
    local sink
    for sink in postgres sqlite bigquery; do
        assert_eq "$(answer id)" "$(envelope "$sink" id)" "twenty $1: $sink envelope id"
        assert_eq twenty "$(envelope "$sink" source)" "twenty $1: $sink envelope source"
        assert_eq "$2" "$(envelope "$sink" op)" "twenty $1: $sink envelope op"
    done
    assert_eq 1 "$(envelope postgres v)" "twenty $1: envelope version"
}
accept_twenty person.created upsert
assert_eq a1f3c5e7-2b4d-4f60-8a9c-1e3d5f7b9c02 "$(envelope sqlite contact_id)" "contact id"
assert_eq "2025-06-02T09:15:30.118000Z" "$(envelope sqlite version)" "version"
accept_twenty person.updated upsert
# The queued event carries only the accepted changed fields.
assert_eq "job_title,phones,updated_at" \
    "$(envelope bigquery changed | tr ',' '\n' | sort | paste -sd,)" "changed of person.updated"
accept_twenty person.deleted delete
assert_eq deleted_at "$(envelope postgres changed)" "changed of a delete"
accept_twenty person.updated.mapped upsert
assert_eq CNT-004711 "$(envelope postgres contact_id)" "contactId is the contact id"
# Only unmapped custom fields changed (they go to extra, which is not a
# change of the contact): acknowledged, nothing queued.
DEPTH=$(llen postgres)
post_twenty "$FIX/twenty/person.updated.custom-fields.json"
assert_eq 200 "$STATUS" "custom fields only: status ($BODY)"
assert_eq "$DEPTH" "$(llen postgres)" "custom fields only: nothing queued"

accept_supabase() { # FIXTURE OP
    local before_pg
    before_pg=$(llen postgres)
    post_supabase "$FIX/supabase/$1.json"
    expect 202 accepted "supabase $1"
    assert_eq "sqlite,bigquery,twenty" "$(answer queued)" "supabase $1: queued"
    assert_eq "$before_pg" "$(llen postgres)" "supabase $1: nothing back to postgres"
    assert_eq "$(answer id)" "$(envelope twenty id)" "supabase $1: envelope id"
    assert_eq supabase "$(envelope twenty source)" "supabase $1: envelope source"
    assert_eq "$2" "$(envelope twenty op)" "supabase $1: envelope op"
    assert_eq CNT-000187 "$(envelope sqlite contact_id)" "supabase $1: contact"
}
accept_supabase contacts.insert upsert
accept_supabase contacts.update upsert
accept_supabase contacts.delete delete
assert_eq 7 "$(llen bigquery)" "bigquery queue after every fixture"

# Bearer instead of the header; charset in the content type.
python3 - "$FIX/supabase/contacts.insert.json" "$TEST_TMP/bearer.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["record"]["id"] = "0b0e0a0r-0000-4000-8000-000000000001"
d["record"]["contact_id"] = "CNT-BEARER"
open(sys.argv[2], "w").write(json.dumps(d))
EOF
CT="application/json; charset=utf-8" post /v1/webhooks/supabase "$TEST_TMP/bearer.json" \
    -H "Authorization: Bearer sb-secret"
expect 202 accepted "supabase with Authorization: Bearer"

# ---- ignored, duplicate, echo, stale: 200, nothing queued ----
depths() { echo "$(llen postgres) $(llen sqlite) $(llen bigquery) $(llen twenty)"; }
DEPTHS=$(depths)
post_twenty "$FIX/twenty/person.updated.json"
expect 200 duplicate "redelivery"
post_supabase "$FIX/supabase/contacts.update.json"
expect 200 duplicate "supabase redelivery"
# A new delivery (other webhookId) of the same values at a newer version: echo.
# The same change at an older version with another value: stale.
python3 - "$FIX/twenty/person.updated.mapped.json" "$TEST_TMP" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["webhookId"] = "00000000-0000-4000-8000-0000000000e1"
d["record"]["updatedAt"] = "2025-09-14T10:25:00.000Z"
open(sys.argv[2] + "/echo.json", "w").write(json.dumps(d))
d["webhookId"] = "00000000-0000-4000-8000-0000000000e2"
d["record"]["updatedAt"] = "2025-09-13T10:00:00.000Z"
d["record"]["jobTitle"] = "Something older"
open(sys.argv[2] + "/stale.json", "w").write(json.dumps(d))
EOF
post_twenty "$TEST_TMP/echo.json"
expect 200 echo "same values again"
post_twenty "$TEST_TMP/stale.json"
expect 200 stale "older change"
assert_eq "$DEPTHS" "$(depths)" "queues after duplicate/echo/stale"

# ---- identity links (P:xref) ----
# Accepted events linked the ids they carry: person.updated.mapped holds
# contactId CNT-004711, id b7e2... and supabaseId 9a1b...
assert_eq CNT-004711 "$(rc GET "$P:xref:twenty:b7e2d4f6-1a3c-4e5f-9b8d-2c4e6f8a0b13")" "twenty link"
assert_eq CNT-004711 "$(rc GET "$P:xref:supabase:9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")" \
    "supabase link"
# A Supabase row with that id and no contact_id joins CNT-004711 instead
# of starting a contact of its own.
python3 - "$FIX/supabase/contacts.insert.json" "$TEST_TMP/unlinked.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["record"]["id"] = "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
d["record"]["contact_id"] = None
d["record"]["updated_at"] = "2025-10-01T00:00:00+00:00"
open(sys.argv[2], "w").write(json.dumps(d))
EOF
post_supabase "$TEST_TMP/unlinked.json"
expect 202 accepted "supabase row without contact_id"
assert_eq CNT-004711 "$(envelope sqlite contact_id)" "linked contact of a row without contact_id"
assert_eq 0 "$(rc EXISTS "$P:contact:9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")" "no duplicate contact"

# ---- rejected requests change nothing in Redis ----
BEFORE=$(snapshot)
T="$FIX/twenty/person.updated.custom-fields.json"
post_twenty "$FIX/twenty/company.updated.json"
expect 200 ignored "company.updated"
read -r TS SIG < <($SIGN twenty test-secret "$T")
read -r _ OTHER < <($SIGN twenty test-secret "$FIX/twenty/person.created.json" "$TS")
read -r _ WRONG < <($SIGN twenty wrong-secret "$T" "$TS")
OLD=$(($(date +%s) * 1000 - 600000))
read -r _ OLDSIG < <($SIGN twenty test-secret "$T" "$OLD")
post /v1/webhooks/twenty "$T" -H "X-Twenty-Webhook-Timestamp: $TS" \
    -H "X-Twenty-Webhook-Signature: $OTHER"
expect 401 error "signature of another body"
post /v1/webhooks/twenty "$T" -H "X-Twenty-Webhook-Timestamp: $TS"
expect 401 error "missing signature"
post /v1/webhooks/twenty "$T"
expect 401 error "no signature headers at all"
post /v1/webhooks/twenty "$T" -H "X-Twenty-Webhook-Timestamp: $TS" \
    -H "X-Twenty-Webhook-Signature: $WRONG"
expect 401 error "wrong secret"
post /v1/webhooks/twenty "$T" -H "X-Twenty-Webhook-Timestamp: $OLD" \
    -H "X-Twenty-Webhook-Signature: $OLDSIG"
expect 401 error "timestamp 10 minutes old"
assert_eq "timestamp outside the window" "$(answer reason)" "old timestamp reason"
post /v1/webhooks/supabase "$FIX/supabase/contacts.insert.json" -H "X-Syncrelay-Secret: nope"
expect 401 error "supabase wrong secret"
post /v1/webhooks/supabase "$FIX/supabase/contacts.insert.json" -H "Authorization: Bearer nope"
expect 401 error "supabase wrong bearer"
post /v1/webhooks/supabase "$FIX/supabase/contacts.insert.json"
expect 401 error "supabase no secret"

printf '{"eventName": "person.updated", "record": ' >"$TEST_TMP/notjson.json"
post_twenty "$TEST_TMP/notjson.json"
expect 400 error "not JSON"
: >"$TEST_TMP/empty.json"
post_twenty "$TEST_TMP/empty.json"
expect 400 error "empty body"
echo '{"hello": "world"}' >"$TEST_TMP/shape.json"
post_twenty "$TEST_TMP/shape.json"
expect 400 error "twenty: wrong shape"
post_supabase "$TEST_TMP/shape.json"
expect 400 error "supabase: wrong shape"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["record"]["id"];
open(sys.argv[2],"w").write(json.dumps(d))' "$T" "$TEST_TMP/noid.json"
post_twenty "$TEST_TMP/noid.json"
expect 400 error "no record id"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["record"]["city"]="x"*70000;
open(sys.argv[2],"w").write(json.dumps(d))' "$T" "$TEST_TMP/big.json"
post_twenty "$TEST_TMP/big.json"
expect 413 error "body over the limit"
post_twenty "$TEST_TMP/big.json" -H "Transfer-Encoding: chunked"
expect 413 error "chunked body over the limit"
post_twenty "$TEST_TMP/big.json" -H "Expect: 100-continue"
expect 413 error "100-continue over the limit"
CT=text/plain post_twenty "$T"
expect 415 error "wrong content type"
CT="application/jsonx" post_twenty "$T"
expect 415 error "not quite JSON content type"
CT="" post_twenty "$T"
expect 415 error "no content type"
curl -s -o /dev/null -w '%{http_code}' -X GET "$URL/v1/webhooks/twenty" >"$TEST_TMP/status"
assert_eq 405 "$(cat "$TEST_TMP/status")" "GET on a webhook route"
curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/v1/webhooks/other" >"$TEST_TMP/status"
assert_eq 404 "$(cat "$TEST_TMP/status")" "unknown path"
assert_eq "$BEFORE" "$(snapshot)" "Redis after rejected requests"

# A chunked body within the limit and Expect: 100-continue both work.
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["record"]["id"]="c0c0c0c0-0000-4000-8000-000000000002";
open(sys.argv[2],"w").write(json.dumps(d))' "$FIX/twenty/person.created.json" "$TEST_TMP/chunked.json"
post_twenty "$TEST_TMP/chunked.json" -H "Transfer-Encoding: chunked" -H "Expect: 100-continue"
expect 202 accepted "chunked + 100-continue"

# No secret, body or signature ever reaches the log.
grep -q 'test-secret\|sb-secret\|Lovelace' "$TEST_TMP/relay.log" && fail "log leaks a secret or body"
grep -q 'status=401 reason=\\"bad signature\\" source=twenty' "$TEST_TMP/relay.log" ||
    fail "no request line for the bad signature"

# ---- Redis paused (slow), then down, then back ----
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" "readyz with Redis up"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["record"]["updatedAt"]="2025-06-05T00:00:00.000Z";
d["record"]["jobTitle"]="Engineer"; open(sys.argv[2],"w").write(json.dumps(d))' \
    "$FIX/twenty/person.updated.json" "$TEST_TMP/later.json"
DEPTH=$(llen postgres)
# The bound on a 503: the enqueue thread retries a fast failure once
# (within a quarter of redis.timeout_ms), then one slow attempt may wait a
# reconnect and the command, timeout_ms each: 2.25 s here, plus a margin
# for a loaded sanitizer build; well inside the senders' 5 s.
LIMIT_MS=3000
rc CLIENT PAUSE 2500 ALL >/dev/null
START=$(date +%s%N)
post_twenty "$TEST_TMP/later.json"
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
expect 503 error "Redis paused"
echo "$HEADERS" | grep -qi '^Retry-After: 1' || fail "503 without Retry-After: $HEADERS"
[ "$ELAPSED_MS" -lt "$LIMIT_MS" ] || fail "503 took ${ELAPSED_MS} ms with Redis paused"
sleep 2.6
# The timed-out script must not run once Redis resumes: 503 means not queued.
assert_eq "$DEPTH" "$(llen postgres)" "nothing queued by the request answered 503"

kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
START=$(date +%s%N)
post_twenty "$TEST_TMP/later.json"
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
expect 503 error "Redis down"
echo "$HEADERS" | grep -qi '^Retry-After: 1' || fail "503 without Retry-After: $HEADERS"
[ "$ELAPSED_MS" -lt "$LIMIT_MS" ] || fail "503 took ${ELAPSED_MS} ms with Redis down"
assert_eq 503 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" "readyz with Redis down"
# A row without contact_id fails at its link lookup, before the accept.
post_supabase "$TEST_TMP/unlinked.json"
expect 503 error "Redis down, link lookup"
echo "$HEADERS" | grep -qi '^Retry-After: 1' || fail "503 without Retry-After: $HEADERS"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$TEST_TMP" >"$TEST_TMP/redis2.log" 2>&1 &
REDIS_PID=$!
LIB_PIDS+=("$REDIS_PID")
wait_for redis-cli -p "$REDIS_PORT" ping
post_twenty "$TEST_TMP/later.json"
expect 202 accepted "Redis back"
assert_eq 1 "$(llen postgres)" "the event after the restart is queued"

# ---- clean stop ----
kill -TERM "$RELAY_PID"
wait "$RELAY_PID"
assert_eq 0 "$?" "exit status after SIGTERM"
grep -q 'msg="stopped"' "$TEST_TMP/relay.log" || fail "no clean stop in the log"
echo "PASS test_ingest"
