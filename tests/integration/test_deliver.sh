#!/usr/bin/env bash
# Delivery into Postgres and SQLite (issue 4), against a real redis-server,
# a real PostgreSQL and a real SQLite file, with `syncrelay serve --role
# workers`. Events are the shared fixtures turned canonical by `syncrelay
# transform`, pushed as queue envelopes onto P:q:postgres and P:q:sqlite.
#  1. every fixture contact becomes the expected row in both databases,
#     field by field (expected = contact.md's field-level rule);
#  2. the same events in reverse order, each delivered twice, give the
#     same rows;
#  3. changes to different fields of one contact from two sources both
#     survive, and an older change of a field loses, in one batch or two;
#  4. poison events are dead-lettered with their error while their batch
#     neighbours land.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deliver_common.sh"
lib_init
start_redis
start_postgres
deliver_setup

# 1. fixtures in order of arrival
fixture_envelopes >"$TEST_TMP/events.jsonl"
push_events "$TEST_TMP/events.jsonl" postgres sqlite
start_workers
wait_drained
check_rows "$TEST_TMP/events.jsonl" "fixtures in order"
snapshot >"$TEST_TMP/forward.json"

# 2. reverse order, each event twice, into empty tables
psql_q "TRUNCATE contacts"
sqlite3 "$LITE_DB" "DELETE FROM contacts"
tac "$TEST_TMP/events.jsonl" | awk '{print; print}' >"$TEST_TMP/reversed.jsonl"
push_events "$TEST_TMP/reversed.jsonl" postgres sqlite
wait_drained
check_rows "$TEST_TMP/events.jsonl" "fixtures reversed and replayed"
snapshot >"$TEST_TMP/reversed.json"
cmp -s "$TEST_TMP/forward.json" "$TEST_TMP/reversed.json" ||
    fail "reverse order + replay changed the rows: $(diff "$TEST_TMP/forward.json" "$TEST_TMP/reversed.json" | head -5)"

# 3. concurrent changes to different fields from two sources
make_event twenty CNT-CONC 2025-01-01T00:00:00.000000Z '{"job_title":"Base","nickname":"Base","company":"Acme"}' \
    job_title,nickname,company >"$TEST_TMP/conc.jsonl"
push_events "$TEST_TMP/conc.jsonl" postgres sqlite
wait_drained
{
    make_event twenty CNT-CONC 2025-01-03T00:00:00.000000Z '{"job_title":"CTO from Twenty"}' job_title
    make_event supabase CNT-CONC 2025-01-02T00:00:00.000000Z '{"nickname":"Nick from Supabase"}' nickname
    make_event supabase CNT-CONC 2025-01-02T12:00:00.000000Z '{"job_title":"stale title"}' job_title
} >"$TEST_TMP/conc2.jsonl"
push_events "$TEST_TMP/conc2.jsonl" postgres sqlite # one batch: merged per contact
wait_drained
assert_eq "CTO from Twenty|Nick from Supabase|Acme" \
    "$(psql_q "SELECT job_title||'|'||nickname||'|'||company FROM contacts WHERE contact_id='CNT-CONC'")" \
    "postgres: both sources' fields survive"
assert_eq "CTO from Twenty|Nick from Supabase|Acme" \
    "$(sqlite3 "$LITE_DB" "SELECT job_title||'|'||nickname||'|'||company FROM contacts WHERE contact_id='CNT-CONC'")" \
    "sqlite: both sources' fields survive"
assert_eq "2025-01-03T00:00:00.000000Z" \
    "$(psql_q "SELECT sync_metadata->'versions'->>'job_title' FROM contacts WHERE contact_id='CNT-CONC'")" \
    "postgres: version of job_title"
# The same three again one at a time, oldest first: same result.
for i in 3 2 1; do
    sed -n "${i}p" "$TEST_TMP/conc2.jsonl" >"$TEST_TMP/one.jsonl"
    push_events "$TEST_TMP/one.jsonl" postgres sqlite
    wait_drained
done
assert_eq "CTO from Twenty|Nick from Supabase" \
    "$(psql_q "SELECT job_title||'|'||nickname FROM contacts WHERE contact_id='CNT-CONC'")" \
    "postgres: one by one"

# 3b. a direct edit in Supabase (not syncrelay's session) is stamped by the
# deployment trigger, so an older event from elsewhere cannot undo it.
psql_q "UPDATE contacts SET nickname = 'Edited in Supabase' WHERE contact_id = 'CNT-CONC'"
stamped=$(psql_q "SELECT sync_metadata->'versions'->>'nickname' FROM contacts WHERE contact_id = 'CNT-CONC'")
[[ "$stamped" > "2025-01-02T00:00:00.000000Z" ]] || fail "direct edit not stamped: [$stamped]"
assert_eq "$stamped" \
    "$(psql_q "SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM contacts WHERE contact_id = 'CNT-CONC'")" \
    "the stamp is the edit's updated_at"
make_event twenty CNT-CONC 2025-01-05T00:00:00.000000Z '{"nickname":"older than the edit"}' nickname >"$TEST_TMP/one.jsonl"
push_events "$TEST_TMP/one.jsonl" postgres
wait_drained
assert_eq "Edited in Supabase" \
    "$(psql_q "SELECT nickname FROM contacts WHERE contact_id = 'CNT-CONC'")" "direct edit survives an older event"

# 4. poison events among good neighbours, in one batch
{
    make_event twenty CNT-P1 2025-02-01T00:00:00.000000Z '{"full_name":"Good One"}' full_name
    make_event twenty CNT-P2 2025-02-01T00:00:00.000000Z '{"relationship_strength":7}' relationship_strength
    make_event twenty CNT-P3 2025-02-01T00:00:00.000000Z '{"full_name":"Good Three"}' full_name
    make_event twenty CNT-P4 2025-02-01T00:00:00.000000Z '{"relationship_strength":"high"}' relationship_strength
    make_event twenty CNT-P5 2025-02-01T00:00:00.000000Z '{"full_name":"Good Five"}' full_name
} >"$TEST_TMP/poison.jsonl"
echo 'this is not an event' >>"$TEST_TMP/poison.jsonl"
push_events "$TEST_TMP/poison.jsonl" postgres sqlite
wait_drained
assert_eq "CNT-P1 CNT-P3 CNT-P5" \
    "$(psql_q "SELECT string_agg(contact_id, ' ' ORDER BY contact_id) FROM contacts WHERE contact_id LIKE 'CNT-P%'")" \
    "postgres: the neighbours landed, the poison did not"
assert_eq "CNT-P1 CNT-P2 CNT-P3 CNT-P5" \
    "$(sqlite3 "$LITE_DB" "SELECT group_concat(contact_id, ' ') FROM (SELECT contact_id FROM contacts WHERE contact_id LIKE 'CNT-P%' ORDER BY 1)")" \
    "sqlite: strength 7 is a valid REAL there; the string is not"
assert_eq 3 "$(rcli LLEN t:dead:postgres)" "postgres dead letters"
assert_eq 2 "$(rcli LLEN t:dead:sqlite)" "sqlite dead letters"
dead_summary postgres >"$TEST_TMP/dead-pg.txt"
grep -q '^CNT-P2 permanent invalid .*sqlstate 23514' "$TEST_TMP/dead-pg.txt" ||
    fail "CNT-P2 dead letter: $(cat "$TEST_TMP/dead-pg.txt")"
grep -q '^CNT-P4 permanent invalid .*relationship_strength' "$TEST_TMP/dead-pg.txt" ||
    fail "CNT-P4 dead letter: $(cat "$TEST_TMP/dead-pg.txt")"
grep -q '^raw permanent invalid ' "$TEST_TMP/dead-pg.txt" ||
    fail "undecodable dead letter: $(cat "$TEST_TMP/dead-pg.txt")"
assert_eq 0 "$(rcli ZCARD t:retry:postgres)" "nothing left to retry"

stop_workers
echo "test_deliver: ok"
