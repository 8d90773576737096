#!/usr/bin/env bash
# Backfill across all four systems (issue 7): real redis-server, PostgreSQL
# and SQLite file, the fake Twenty and the fake BigQuery, and
# `syncrelay serve --role workers` with all four sinks:
#  1. 120 people seeded in Twenty only; push --source twenty (Twenty REST
#     paging with starting_after) queues them to Postgres, SQLite and
#     BigQuery, never back to Twenty; --verify waits for the drain and
#     verify --all finds the four systems agreeing;
#  2. pushing back from BigQuery (jobs.query on the contacts view, paged)
#     and then from every system (--source all) changes nothing;
#  3. a field changed in SQLite only is named by verify (exit 1) with the
#     four systems' values side by side, also in --json;
#  4. an interrupted Twenty push resumes from Twenty's cursor;
#  5. a Twenty error stops the push with exit 1.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/twenty_lib.sh" # fake Twenty helpers
lib_init
start_redis
start_postgres
BIN=${SYNCRELAY_BIN:-$REPO_DIR/build/syncrelay}
PY=/usr/bin/python3
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

RELAY_PORT=$(free_port) # webhooks are not used here; the fake needs a URL
start_fake_twenty --webhook-url ""
BQ_PORT=$(free_port)
$PY "$REPO_DIR/tests/fakes/fake_bigquery.py" "$BQ_PORT" \
    --schema "$REPO_DIR/deploy/bigquery/contacts_changes.schema.json" \
    >"$TEST_TMP/fake_bq.out" 2>"$TEST_TMP/fake_bq.err" &
LIB_PIDS+=($!)
wait_for grep -q "^PORT $BQ_PORT" "$TEST_TMP/fake_bq.out"

LITE_DB=$TEST_TMP/lite.db
CONF=$TEST_TMP/relay.yaml
cat >"$CONF" <<YAML
redis: {url: "$REDIS_URL", prefix: "t"}
postgres: {url: "$PG_URL", workers: 1}
sqlite: {path: "$LITE_DB"}
twenty: {url: "$TWENTY_URL", api_key: "$TWENTY_KEY", rate_limit_per_min: 60000, workers: 1}
bigquery: {project: "test-project", dataset: "crm", endpoint: "http://127.0.0.1:$BQ_PORT",
           metadata_url: "http://127.0.0.1:$BQ_PORT"}
workers: {batch_size: 100, heartbeat_ttl_s: 3, grace_ms: 5000}
retry: {base_ms: 100, cap_ms: 1000, max_attempts: 5}
log: {level: warn}
YAML
"$BIN" --config "$CONF" migrate >/dev/null || fail "migrate"

# seed N people in Twenty (batch create, 60 per request)
N=120
$PY - "$TWENTY_URL" "$TWENTY_KEY" "$N" <<'PY'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port)
people = [{"contactId": "T-%04d" % i, "name": {"firstName": "Tw%d" % i, "lastName": "Enty"},
           "jobTitle": "Role %d" % (i % 9), "emails": {"primaryEmail": "t%d@example.com" % i,
           "additionalEmails": ["t%d@work.example" % i] if i % 2 else []},
           "companyName": "Acme", "tags": ["a", "b%d" % (i % 3)],
           "relationshipStrength": (i % 10) / 10} for i in range(1, int(sys.argv[3]) + 1)]
for k in range(0, len(people), 60):
    c.request("POST", "/rest/batch/people", json.dumps(people[k:k + 60]),
              {"Content-Type": "application/json", "Authorization": "Bearer " + sys.argv[2]})
    r = c.getresponse()
    r.read()
    assert r.status == 201, r.status
PY

"$SYNCRELAY_BIN" --config "$CONF" serve --role workers 2>>"$TEST_TMP/workers.log" &
WORKERS_PID=$!
LIB_PIDS+=("$WORKERS_PID")

echo "seeded at ${SECONDS}s"
# 1. Twenty -> the three others, then verify all four
"$BIN" --config "$CONF" push --source twenty --page-size 60 --verify --verify-timeout 60 --quiet \
    >"$TEST_TMP/push.out" 2>"$TEST_TMP/push.err" ||
    fail "push twenty --verify: $(cat "$TEST_TMP/push.out" "$TEST_TMP/push.err"; tail -5 "$TEST_TMP/workers.log")"
grep -q "^push twenty: read $N, queued $N, unchanged 0, stale 0, failed 0$" "$TEST_TMP/push.out" ||
    fail "summary: $(cat "$TEST_TMP/push.out")"
grep -q "^verify: $N contacts in postgres, sqlite, bigquery, twenty$" "$TEST_TMP/push.out" ||
    fail "verify: $(cat "$TEST_TMP/push.out")"
assert_eq $N "$(psql_q "SELECT count(*) FROM contacts WHERE twenty_id IS NOT NULL")" "Postgres rows"
assert_eq $N "$(sqlite3 "$LITE_DB" "SELECT count(*) FROM contacts")" "SQLite rows"
assert_eq 0 "$(rcli HGET t:stats delivered:twenty | sed 's/^$/0/')" "nothing sent back to Twenty"

echo "pushed and verified at ${SECONDS}s"
# 2. back from BigQuery, then from every system: all known already
out=$("$BIN" --config "$CONF" push --source bigquery --page-size 70 --quiet)
assert_eq "push bigquery: read $N, queued 0, unchanged $N, stale 0, failed 0" "$out" "push bigquery"
"$BIN" --config "$CONF" push --source all --verify --quiet >"$TEST_TMP/all.out" ||
    fail "push all --verify: $(cat "$TEST_TMP/all.out")"
# Postgres generated supabase_id (its uuid primary key) for each new row:
# news for the other three, so its push queues every one of them once.
for s in twenty bigquery sqlite; do
    grep -q "^push $s: read $N, queued 0, unchanged $N, stale 0, failed 0$" "$TEST_TMP/all.out" ||
        fail "push all, $s: $(cat "$TEST_TMP/all.out")"
done
grep -q "^push postgres: read $N, queued $N, unchanged 0, stale 0, failed 0$" "$TEST_TMP/all.out" ||
    fail "push all, postgres: $(cat "$TEST_TMP/all.out")"
grep -q "^contacts that differ: 0$" "$TEST_TMP/all.out" || fail "push all: $(cat "$TEST_TMP/all.out")"
assert_eq $N "$(sqlite3 "$LITE_DB" "SELECT count(*) FROM contacts WHERE supabase_id IS NOT NULL")" \
    "SQLite learnt the Supabase ids"
assert_eq $N "$(twenty_py "sum(1 for r in R if r.get('supabaseId'))")" "Twenty learnt them"
out=$("$BIN" --config "$CONF" push --source all --quiet)
assert_eq "0" "$(echo "$out" | grep -vc "queued 0, unchanged $N, stale 0, failed 0$")" \
    "a second push of everything changes nothing: $out"

echo "pushed all at ${SECONDS}s"
# 3. a divergence in one system
sqlite3 "$LITE_DB" "UPDATE contacts SET job_title = 'Diverged' WHERE contact_id = 'T-0007'"
set +e
"$BIN" --config "$CONF" verify --contact-id T-0007 >"$TEST_TMP/v.out"
rc=$?
set -e
assert_eq 1 "$rc" "verify of the diverged contact"
grep -Eq '^job_title +"Role 7" +"Diverged" +"Role 7" +"Role 7"$' "$TEST_TMP/v.out" ||
    fail "table: $(cat "$TEST_TMP/v.out")"
set +e
"$BIN" --config "$CONF" verify --contact-id T-0007 --json >"$TEST_TMP/v.json"
set -e
assert_eq "job_title Diverged Role 7" \
    "$($PY -c "import json; d=json.load(open('$TEST_TMP/v.json'))['differences']; print(len(d) and d[0]['field'], d[0]['values']['sqlite'], d[0]['values']['twenty'])")" \
    "json difference"
assert_eq 0 "$("$BIN" --config "$CONF" verify --contact-id T-0008 >/dev/null; echo $?)" "a neighbour agrees"

# 4. an interrupted Twenty push resumes from Twenty's cursor. Paced at
# 300 requests/min (a burst of 30, then 5/s), one contact a page cannot
# finish before the interrupt, however fast the machine.
SYNCRELAY_TWENTY_RATE_LIMIT_PER_MIN=300 \
    "$BIN" --config "$CONF" push --source twenty --page-size 1 --quiet >"$TEST_TMP/p1.out" 2>&1 &
pid=$!
for i in $(seq 1 200); do
    n=$(rcli HGET t:push:twenty read)
    [ -n "$n" ] && [ "$n" -ge 20 ] && break
    sleep 0.05
done
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
assert_eq 130 "$rc" "interrupted Twenty push"
read=$(rcli HGET t:push:twenty read)
[ -n "$(rcli HGET t:push:twenty cursor)" ] || fail "no Twenty cursor saved"
out=$("$BIN" --config "$CONF" push --source twenty --page-size 50 --quiet 2>/dev/null)
assert_eq "push twenty: read $N, queued 0, unchanged $N, stale 0, failed 0" "$out" \
    "resumed after $read: every contact read once"

# 5. Twenty failing: exit 1, and the next run completes
twenty_ctl POST fail '{"status": 500, "count": 1}' >/dev/null
set +e
"$BIN" --config "$CONF" push --source twenty --quiet >/dev/null 2>"$TEST_TMP/fail.err"
rc=$?
set -e
assert_eq 1 "$rc" "push while Twenty answers 500"
grep -q "syncrelay push: twenty: .*500" "$TEST_TMP/fail.err" || fail "message: $(cat "$TEST_TMP/fail.err")"
out=$("$BIN" --config "$CONF" push --source twenty --quiet 2>/dev/null)
assert_eq "push twenty: read $N, queued 0, unchanged $N, stale 0, failed 0" "$out" "after the failure"

kill -TERM "$WORKERS_PID"
wait "$WORKERS_PID" || fail "serve exited with $?"
echo "test_push_all: ok"
