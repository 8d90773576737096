#!/usr/bin/env bash
# An interrupted backfill resumes (issue 7), against a real redis-server,
# PostgreSQL and SQLite file:
#  1. 5,000 contacts seeded in SQLite only; a push with a tiny page size
#     gets SIGINT mid-way: exit 130 after the current page, the checkpoint
#     t:push:sqlite holds the cursor and counters, and exactly the contacts
#     read so far are queued;
#  2. a push with another --since refuses to mix with that checkpoint;
#  3. the same command resumes after the cursor: every contact is queued
#     exactly once (P:stats accepted = 5000, no duplicates), the checkpoint
#     is gone, and after the workers drain Postgres holds each contact once
#     and verify --all agrees;
#  4. a checkpoint moved back (a crash between queueing a page and saving
#     the checkpoint) repeats those pages without doubling anything;
#  5. SIGTERM stops a push the same way; --restart drops the checkpoint.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deliver_common.sh" # config, rcli, workers, wait_drained
lib_init
start_redis
start_postgres
deliver_setup

sqlite3 "$LITE_DB" "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 5000)
    INSERT INTO contacts (contact_id, full_name, emails, tags, relationship_strength,
                          social_network, created_at, updated_at)
    SELECT printf('L-%05d', i), 'Lite ' || i, json_array('l' || i || '@example.com'),
           json_array('x', 'y' || (i % 5)), i / 10000.0, json_object('i', i),
           '2024-01-01T00:00:00.000000Z',
           strftime('%Y-%m-%dT%H:%M:%S.000000Z', '2025-02-01', '+' || i || ' seconds')
    FROM s"
assert_eq 5000 "$(sqlite3 "$LITE_DB" "SELECT count(*) FROM contacts")" "seeded rows"

# stop_push_midway SIGNAL: starts a slow push, signals it once a checkpoint
# shows 400 contacts read, and checks it stopped with status 130.
stop_push_midway() {
    "$BIN" --config "$CONF" push --source sqlite --page-size 2 \
        >"$TEST_TMP/push1.out" 2>"$TEST_TMP/push1.err" &
    local pid=$! i read=0
    for i in $(seq 1 300); do
        read=$(rcli HGET t:push:sqlite read)
        [ -n "$read" ] && [ "$read" -ge 400 ] && break
        sleep 0.1
    done
    [ -n "$read" ] && [ "$read" -ge 400 ] || fail "the push made no progress: $(cat "$TEST_TMP/push1.err")"
    kill "-$1" "$pid"
    set +e
    wait "$pid"
    local rc=$?
    set -e
    assert_eq 130 "$rc" "exit status after $1"
    grep -q "(interrupted: run the same command to resume)" "$TEST_TMP/push1.out" ||
        fail "summary after $1: $(cat "$TEST_TMP/push1.out")"
}

# 1. interrupt
stop_push_midway INT
read=$(rcli HGET t:push:sqlite read)
cursor=$(rcli HGET t:push:sqlite cursor)
[ "$read" -lt 5000 ] || fail "the push was not interrupted mid-way (read $read)"
assert_eq 0 $((read % 2)) "stopped after a whole page"
assert_eq "$(printf 'L-%05d' "$read")" "$cursor" "cursor = last contact_id of the last page"
assert_eq "$read" "$(rcli HGET t:push:sqlite queued)" "checkpoint counts what it queued"
assert_eq "$read" "$(rcli LLEN t:q:postgres)" "queued so far"
assert_eq "$read" "$(rcli HGET t:stats accepted)" "accepted so far"
grep -q "^push sqlite: read $read, queued $read, unchanged 0, stale 0, failed 0 (interrupted" \
    "$TEST_TMP/push1.out" || fail "summary: $(cat "$TEST_TMP/push1.out")"

# 2. another --since does not mix with the pending checkpoint
set +e
"$BIN" --config "$CONF" push --source sqlite --since 2025-02-01T00:00:00Z --quiet \
    >/dev/null 2>"$TEST_TMP/since.err"
rc=$?
set -e
assert_eq 2 "$rc" "push with another --since while a checkpoint is pending"
grep -q "interrupted push of sqlite with --since '' is pending" "$TEST_TMP/since.err" ||
    fail "message: $(cat "$TEST_TMP/since.err")"
assert_eq "$cursor" "$(rcli HGET t:push:sqlite cursor)" "checkpoint kept"

# 3. resume: nothing missing, nothing doubled
out=$("$BIN" --config "$CONF" push --source sqlite --page-size 500 2>"$TEST_TMP/push2.err")
grep -q "^push sqlite: resuming after $cursor ($read contacts read before)" "$TEST_TMP/push2.err" ||
    fail "resume message: $(cat "$TEST_TMP/push2.err")"
assert_eq "push sqlite: read 5000, queued 5000, unchanged 0, stale 0, failed 0" "$out" "resumed summary"
assert_eq 0 "$(rcli EXISTS t:push:sqlite)" "checkpoint deleted at the end"
assert_eq 5000 "$(rcli LLEN t:q:postgres)" "every contact queued once"
assert_eq 0 "$(rcli LLEN t:q:sqlite)" "nothing back to SQLite"
assert_eq 5000 "$(rcli HGET t:stats accepted)" "P:stats accepted"
assert_eq "" "$(rcli HGET t:stats duplicate)" "P:stats duplicate"
start_workers
wait_drained 60
assert_eq "5000 5000" "$(psql_q "SELECT count(*) || ' ' || count(DISTINCT contact_id) FROM contacts")" \
    "Postgres holds every contact once"
assert_eq 5000 "$(rcli HGET t:stats delivered:postgres)" "delivered once each"
assert_eq "L-00001 L-05000" \
    "$(psql_q "SELECT min(contact_id) || ' ' || max(contact_id) FROM contacts")" "first and last"
"$BIN" --config "$CONF" verify --all >"$TEST_TMP/verify.txt" ||
    fail "verify --all: $(cat "$TEST_TMP/verify.txt")"

# 4. a checkpoint behind what was queued repeats pages without doubling
rcli HSET t:push:sqlite cursor L-02000 since "" read 2000 queued 2000 >/dev/null
out=$("$BIN" --config "$CONF" push --source sqlite --quiet 2>/dev/null)
assert_eq "push sqlite: read 5000, queued 2000, unchanged 3000, stale 0, failed 0" "$out" "repeated pages"
assert_eq 5000 "$(rcli HGET t:stats accepted)" "nothing accepted twice"
assert_eq 3000 "$(rcli HGET t:stats duplicate)" "the repeats were duplicates"

# 5. SIGTERM stops the same way; --restart starts over
stop_push_midway TERM
assert_eq 1 "$(rcli EXISTS t:push:sqlite)" "checkpoint after SIGTERM"
out=$("$BIN" --config "$CONF" push --source sqlite --restart --quiet)
assert_eq "push sqlite: read 5000, queued 0, unchanged 5000, stale 0, failed 0" "$out" "--restart"
assert_eq 0 "$(rcli EXISTS t:push:sqlite)" "no checkpoint after --restart completes"
wait_drained 30
assert_eq 5000 "$(psql_q "SELECT count(*) FROM contacts")" "still 5000 rows"
stop_workers
echo "test_push_resume: ok"
