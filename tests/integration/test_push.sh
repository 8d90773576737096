#!/usr/bin/env bash
# Backfill (issue 7), against a real redis-server, PostgreSQL and SQLite
# file, with `syncrelay serve --role workers` draining the queues:
#  1. 5,000 contacts seeded in Postgres only (one INSERT ... SELECT
#     generate_series); --dry-run reads them and queues nothing;
#  2. push --source supabase queues all 5,000 to SQLite only (never back to
#     Postgres), the workers write them, verify --all agrees (exit 0);
#  3. pushing again changes nothing (unchanged), from SQLite too (echo);
#  4. a direct, newer edit in Postgres is the only contact queued by the
#     next push; --since and --contact-id narrow the read;
#  5. push --source all --verify waits for the drain and verifies;
#  6. a record without contact_id fails (exit 1), an unmappable field is
#     left out with a warning;
#  7. Postgres or Redis down: exit 1;
#  8. bad usage and an unconfigured source exit 2.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deliver_common.sh" # config, rcli, workers, wait_drained
lib_init
start_redis
start_postgres
deliver_setup

# seed_postgres N: N contacts C-00001.. with varied values, in one statement.
seed_postgres() {
    psql_q "INSERT INTO contacts (contact_id, full_name, first_name, last_name, job_title,
              company, relationship_type, relationship_strength, social_network, tags, emails,
              phones, created_at, updated_at)
            SELECT format('C-%s', lpad(i::text, 5, '0')), 'Person ' || i, 'First' || i,
              'Last' || i, CASE WHEN i % 3 = 0 THEN 'Engineer' END, 'Acme', 'friend',
              (i % 100) / 100.0, jsonb_build_object('linkedin', 'p' || i, 'n', i),
              jsonb_build_array('t' || (i % 7)), jsonb_build_array('p' || i || '@example.com'),
              jsonb_build_array('+4477009' || lpad(i::text, 5, '0')), '2024-01-01T00:00:00Z',
              '2025-01-01T00:00:00Z'::timestamptz + i * interval '1 second'
            FROM generate_series(1, $1) AS i"
}

# 1. seed Postgres only; a dry run reads everything and queues nothing
seed_postgres 5000
assert_eq 5000 "$(psql_q "SELECT count(*) FROM contacts")" "seeded rows"
out=$("$BIN" --config "$CONF" push --source supabase --dry-run --quiet)
assert_eq "push postgres: read 5000, queued 0, unchanged 0, stale 0, failed 0 (dry run: nothing queued)" \
    "$out" "dry-run summary"
assert_eq 0 "$(rcli LLEN t:q:sqlite)" "dry run queued nothing"
assert_eq 0 "$(rcli EXISTS t:push:supabase)" "dry run keeps no checkpoint"

# 2. push: everything to SQLite, nothing back to Postgres
out=$("$BIN" --config "$CONF" push --source supabase --page-size 700 2>"$TEST_TMP/progress.txt")
assert_eq "push postgres: read 5000, queued 5000, unchanged 0, stale 0, failed 0" "$out" "push summary"
grep -q "^push postgres: 5000/5000 (100%)" "$TEST_TMP/progress.txt" ||
    fail "no plain progress line: $(cat "$TEST_TMP/progress.txt")"
assert_eq 5000 "$(rcli LLEN t:q:sqlite)" "queued to sqlite"
assert_eq 0 "$(rcli LLEN t:q:postgres)" "never routed back to its own system"
assert_eq 0 "$(rcli EXISTS t:push:supabase)" "checkpoint deleted when complete"
assert_eq 5000 "$(rcli HGET t:stats accepted)" "P:stats accepted"
# --verify gives up when nobody drains the queues
set +e
"$BIN" --config "$CONF" push --source supabase --contact-id C-00001 --verify --verify-timeout 1 \
    --quiet >"$TEST_TMP/nodrain.out" 2>"$TEST_TMP/nodrain.err"
rc=$?
set -e
assert_eq 1 "$rc" "push --verify without workers"
grep -q "queues not drained (5000 events pending)" "$TEST_TMP/nodrain.err" ||
    fail "message: $(cat "$TEST_TMP/nodrain.err")"
start_workers
wait_drained 60
assert_eq 5000 "$(sqlite3 "$LITE_DB" "SELECT count(*) FROM contacts")" "sqlite rows"
"$BIN" --config "$CONF" verify --all >"$TEST_TMP/verify.txt" ||
    fail "verify --all after the push: $(cat "$TEST_TMP/verify.txt")"
grep -q "^contacts that differ: 0" "$TEST_TMP/verify.txt" || fail "verify output: $(cat "$TEST_TMP/verify.txt")"
# spot check of the values that travelled
assert_eq "Person 42|[\"p42@example.com\"]|0.42|2025-01-01T00:00:42.000000Z" \
    "$(sqlite3 "$LITE_DB" "SELECT full_name||'|'||emails||'|'||relationship_strength||'|'||updated_at FROM contacts WHERE contact_id='C-00042'")" \
    "a contact's values in SQLite"

# 3. a second push finds everything known already (from SQLite too: step 5)
out=$("$BIN" --config "$CONF" push --source supabase --quiet)
assert_eq "push postgres: read 5000, queued 0, unchanged 5000, stale 0, failed 0" "$out" "repeated push"
assert_eq 5000 "$(rcli HGET t:stats accepted)" "nothing accepted twice"

# 4. a direct edit in Postgres (newer updated_at) is the only change
psql_q "UPDATE contacts SET job_title = 'Chief Backfill Officer', updated_at = '2026-01-01T00:00:00Z' WHERE contact_id = 'C-00777'"
out=$("$BIN" --config "$CONF" push --source supabase --quiet)
assert_eq "push postgres: read 5000, queued 1, unchanged 4999, stale 0, failed 0" "$out" "push after an edit"
wait_drained 30
assert_eq "Chief Backfill Officer" \
    "$(sqlite3 "$LITE_DB" "SELECT job_title FROM contacts WHERE contact_id='C-00777'")" "the edit reached SQLite"
out=$("$BIN" --config "$CONF" push --source supabase --since 2025-01-01T01:23:10+00:00 --quiet)
assert_eq "push postgres: read 12, queued 0, unchanged 12, stale 0, failed 0" "$out" "--since: 4990..5000 and the edited C-00777"
out=$("$BIN" --config "$CONF" push --source supabase --contact-id C-00003 --quiet)
assert_eq "push postgres: read 1, queued 0, unchanged 1, stale 0, failed 0" "$out" "--contact-id"
set +e
"$BIN" --config "$CONF" push --source supabase --contact-id NOPE --quiet >/dev/null 2>"$TEST_TMP/err.txt"
rc=$?
set -e
assert_eq 1 "$rc" "push of an unknown contact"
grep -q "contact NOPE is not in postgres" "$TEST_TMP/err.txt" || fail "message: $(cat "$TEST_TMP/err.txt")"

# 5. all sources in turn, then wait for the drain and verify
"$BIN" --config "$CONF" push --source all --verify --quiet >"$TEST_TMP/all.txt" ||
    fail "push --source all --verify: $(cat "$TEST_TMP/all.txt")"
grep -q "^push postgres: read 5000, queued 0, unchanged 5000" "$TEST_TMP/all.txt" || fail "all: $(cat "$TEST_TMP/all.txt")"
grep -q "^push sqlite: read 5000, queued 0, unchanged 5000" "$TEST_TMP/all.txt" || fail "all: $(cat "$TEST_TMP/all.txt")"
grep -q "^contacts that differ: 0" "$TEST_TMP/all.txt" || fail "all: $(cat "$TEST_TMP/all.txt")"

# 6. records that cannot be pushed: no contact_id (counted as failed, exit
#    1); a field that cannot be mapped is left out with a warning
sqlite3 "$LITE_DB" "INSERT INTO contacts (contact_id, full_name, updated_at) VALUES
    ('', 'No Id', '2025-03-01T00:00:00.000000Z'),
    ('C-BADPHONE', 'Bad Phone', '2025-03-01T00:00:00.000000Z')"
sqlite3 "$LITE_DB" "UPDATE contacts SET phones = '[\"call me\"]' WHERE contact_id = 'C-BADPHONE'"
set +e
out=$("$BIN" --config "$CONF" push --source sqlite --since 2025-02-01T00:00:00Z --quiet 2>"$TEST_TMP/bad.err")
rc=$?
set -e
assert_eq 1 "$rc" "push with a failed record"
assert_eq "push sqlite: read 3, queued 1, unchanged 1, stale 0, failed 1" "$out" \
    "failed record (C-00777, edited in 2026, is the third)"
grep -q "sqlite: 1 record(s) without contact_id skipped" "$TEST_TMP/bad.err" || fail "$(cat "$TEST_TMP/bad.err")"
grep -q "contact=C-BADPHONE field=phones not mappable" "$TEST_TMP/bad.err" || fail "$(cat "$TEST_TMP/bad.err")"
wait_drained 30
assert_eq "Bad Phone|" "$(psql_q "SELECT full_name || '|' || coalesce(phones::text, '') FROM contacts WHERE contact_id = 'C-BADPHONE'")" \
    "the contact went on without the bad field"
sqlite3 "$LITE_DB" "DELETE FROM contacts WHERE contact_id IN ('', 'C-BADPHONE')"
psql_q "DELETE FROM contacts WHERE contact_id = 'C-BADPHONE'"

# 7. a system or Redis that cannot be reached: exit 1, nothing half-done
pg_stop
set +e
"$BIN" --config "$CONF" push --source supabase --quiet >/dev/null 2>"$TEST_TMP/pgdown.err"
rc=$?
set -e
pg_start
assert_eq 1 "$rc" "push while Postgres is down"
grep -q "postgres connect" "$TEST_TMP/pgdown.err" || fail "$(cat "$TEST_TMP/pgdown.err")"
sed "s|$REDIS_URL|redis://127.0.0.1:$(free_port)|" "$CONF" >"$TEST_TMP/noredis.yaml"
set +e
"$BIN" --config "$TEST_TMP/noredis.yaml" push --source supabase --quiet >/dev/null 2>"$TEST_TMP/noredis.err"
rc=$?
set -e
assert_eq 1 "$rc" "push without Redis"
grep -qi "redis" "$TEST_TMP/noredis.err" || fail "$(cat "$TEST_TMP/noredis.err")"

# 8. usage errors and a source that is not configured
for args in "" "--source nowhere" "--source sqlite --page-size 0" "--source sqlite --since yesterday" \
    "--source sqlite --bogus" "--source bigquery" "--source twenty"; do
    set +e
    # shellcheck disable=SC2086
    "$BIN" --config "$CONF" push $args --quiet >/dev/null 2>&1
    rc=$?
    set -e
    assert_eq 2 "$rc" "push $args"
done

stop_workers
echo "test_push: ok"
