#!/usr/bin/env bash
# The BigQuery sink inside the real daemon: `syncrelay serve --role workers`
# with a real redis-server, the worker pool and retry policy, against the
# fake BigQuery. The shared fixtures (turned canonical by `syncrelay
# transform`) plus one event that breaks the table schema are queued on
# t:q:bigquery while the fake answers 503 twice: every good event lands once,
# field by field, and the bad one alone is dead-lettered.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deliver_common.sh"
lib_init
start_redis

PY=/usr/bin/python3
SCHEMA=$REPO_DIR/deploy/bigquery/contacts_changes.schema.json
BQ_PORT=$(free_port)
KEYDIR=$TEST_TMP/key
mkdir -p "$KEYDIR"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYDIR/key.pem" 2>/dev/null
openssl pkey -in "$KEYDIR/key.pem" -pubout -out "$KEYDIR/pub.pem"
KEY_PEM=$KEYDIR/key.pem PORT=$BQ_PORT $PY -c '
import json, os
print(json.dumps({"type": "service_account", "private_key_id": "kid-9",
  "private_key": open(os.environ["KEY_PEM"]).read(),
  "client_email": "relay@test-project.iam.gserviceaccount.com",
  "token_uri": "http://127.0.0.1:%s/token" % os.environ["PORT"]}))' >"$KEYDIR/sa.json"
$PY "$REPO_DIR/tests/fakes/fake_bigquery.py" "$BQ_PORT" --schema "$SCHEMA" \
    --pubkey "$KEYDIR/pub.pem" --kid kid-9 --client-email relay@test-project.iam.gserviceaccount.com \
    >"$TEST_TMP/fake.out" 2>"$TEST_TMP/fake.err" &
LIB_PIDS+=($!)
wait_for grep -q "^PORT $BQ_PORT" "$TEST_TMP/fake.out"
BASE=http://127.0.0.1:$BQ_PORT
stat() { curl -sf "$BASE/_rows" | $PY -c "import json,sys; print(json.load(sys.stdin)['stats']['$1'])"; }

CONF=$TEST_TMP/syncrelay.yaml
cat >"$CONF" <<EOC
redis: {url: "$REDIS_URL", prefix: "t"}
sqlite: {path: "off"}
bigquery: {project: test-project, dataset: crm, endpoint: "$BASE",
           credentials: "$KEYDIR/sa.json", workers: 2, timeout_ms: 3000}
workers: {batch_size: 50, heartbeat_ttl_s: 3, grace_ms: 5000}
retry: {base_ms: 50, cap_ms: 300, max_attempts: 6}
log: {level: warn}
EOC

fixture_envelopes >"$TEST_TMP/events.jsonl"
GOOD=$(wc -l <"$TEST_TMP/events.jsonl")
make_event twenty CNT-BAD 2025-01-01T00:00:00.000000Z '{"full_name":"Bad","tags":[1]}' \
    full_name,tags >"$TEST_TMP/bad.jsonl"
cat "$TEST_TMP/bad.jsonl" >>"$TEST_TMP/events.jsonl"
BAD_ID=$($PY -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])' <"$TEST_TMP/bad.jsonl")

curl -sf -X POST -d '{"fail": 503, "count": 2}' "$BASE/_control" >/dev/null
push_events "$TEST_TMP/events.jsonl" bigquery
start_workers

bq_pending() {
    local n k
    n=$(($(rcli LLEN t:q:bigquery) + $(rcli ZCARD t:retry:bigquery)))
    for k in $(rcli --scan --pattern 't:inflight:bigquery:*'); do n=$((n + $(rcli LLEN "$k"))); done
    echo "$n"
}
for _ in $(seq 1 300); do
    [ "$(bq_pending)" = 0 ] && break
    sleep 0.1
done
assert_eq 0 "$(bq_pending)" "bigquery queue drained (log: $(tail -3 "$TEST_TMP/workers.log"))"
stop_workers
# lib_cleanup (under set -e) fails on a pid that is already reaped: forget it.
keep=()
for p in "${LIB_PIDS[@]}"; do [ "$p" = "$WORKERS_PID" ] || keep+=("$p"); done
LIB_PIDS=("${keep[@]}")

assert_eq 2 "$(stat failures_served)" "503s served"
assert_eq "$GOOD" "$(stat rows_stored)" "good events stored once each"
assert_eq 1 "$(rcli LLEN t:dead:bigquery)" "dead letters"
rcli LINDEX t:dead:bigquery 0 | grep -q "\"$BAD_ID\"" || fail "the dead letter is not the bad event"
curl -sf "$BASE/_rows" | $PY -c '
import json, sys
rows = [r["json"] for r in json.load(sys.stdin)["rows"]]
assert all(r["contact_id"] != "CNT-BAD" for r in rows)
for r in rows:
    for k in ("social_network", "llm_context", "ai_insights", "communication_stats", "extra"):
        assert r.get(k) is None or isinstance(r[k], str), (k, r[k])
    for k in ("tags", "emails", "phones"):
        assert k not in r or isinstance(r[k], list), (k, r[k])
    assert "sync_metadata" not in r
' || fail "rows through serve do not have the BigQuery shapes"
echo "test_bigquery_serve: passed"
