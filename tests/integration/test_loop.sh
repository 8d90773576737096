#!/usr/bin/env bash
# The loop test (issue 6): the whole product on loopback, every system both
# a source and a destination, and syncrelay's own writes coming back to it.
# Real PostgreSQL (deploy/sql/supabase.sql + the webhook recorder, whose
# bodies loop_forward.py posts to /v1/webhooks/supabase in order), the fake
# Twenty (signed webhooks for every change, syncrelay's own included), the
# fake BigQuery, a real SQLite file, real redis, and `syncrelay serve` with
# the postgres, sqlite, bigquery and twenty sinks.
#  1a create a contact A in Supabase (a normal session's INSERT)
#  1b create a contact B in Twenty (a user)
#  2  edit A in Supabase (one field)
#  3  edit A in Twenty (one field, the fake's user edit)
#  4  edit A in both at once, different fields
#  5  edit A in both at once, the same field: Twenty's edit is newer and its
#     webhook arrives first; the older Supabase one arrives late
#  6a soft-delete A in Twenty while an older Supabase update of A is held
#     back, then delivered late: A stays deleted everywhere
#  6b DELETE B in Supabase; B's last UPDATE (made before the DELETE) is
#     delivered after it: B stays deleted, Postgres does not get it back
# After each step: wait until quiet (loop_check.py quiet), then check that
# the four systems agree field by field, that each change crossed each
# system exactly once (P:stats, the fake Twenty's writes, a write-log
# trigger in Postgres and in SQLite, BigQuery rows) and that nothing looped.
# A failing step is reported and the next steps still run.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/twenty_lib.sh"
. "$(dirname "$0")/loop_lib.sh"
: "${SYNCRELAY_BIN:?}" "${RELAY_FIXTURES:?}"

lib_init
start_redis
loop_start_postgres
loop_start_bigquery
RELAY_PORT=$(free_port)
start_fake_twenty
LITE_DB=$TEST_TMP/relay.db
RELAY_LOG_LEVEL=${RELAY_LOG_LEVEL:-warn}
write_relay_config "$TEST_TMP/relay.yaml" "$(loop_extra_yaml)"
"$SYNCRELAY_BIN" --config "$TEST_TMP/relay.yaml" migrate >/dev/null || fail "migrate"
loop_sqlite_triggers
start_relay "$(loop_extra_yaml)"
loop_start_forwarder
LOOP_A=CNT-LOOP-A
LOOP_B=""
LOOP_A_CREATED=""
loop_step 0

echo "== 1a: INSERT in Supabase"
LOOP_A_CREATED=2024-11-12T08:41:19.270000Z
supa "INSERT INTO contacts (contact_id, first_name, last_name, full_name, company, job_title,
        emails, phones, tags, relationship_type, relationship_strength, created_at, updated_at)
      VALUES ('$LOOP_A', 'Ana', 'Lopez', 'Ana Lopez', 'Acme', 'Buyer', '[\"ana@acme.example\"]',
        '[\"+14155550123\"]', '[\"vip\"]', 'client', 0.5, '2024-11-12 08:41:19.27+00', now())"
loop_step 1a

echo "== 1b: create in Twenty"
LOOP_B=$(twenty_ctl POST create '{"name": {"firstName": "Bea", "lastName": "Berg"},
    "jobTitle": "Partner", "emails": {"primaryEmail": "bea@berg.example", "additionalEmails": []}}' |
    $LOOP_PY -c 'import json, sys; print(json.load(sys.stdin)["record"]["id"])')
loop_step 1b

echo "== 2: edit in Supabase"
supa "UPDATE contacts SET job_title = 'Head Buyer' WHERE contact_id = '$LOOP_A'"
loop_step 2

echo "== 3: edit in Twenty"
twenty_edit "$LOOP_A" '{"nickname": "Annie"}'
loop_step 3

echo "== 4: both at once, different fields"
supa "UPDATE contacts SET company = 'Acme Supa' WHERE contact_id = '$LOOP_A'" &
twenty_edit "$LOOP_A" '{"department": "Twenty Dept"}'
wait $!
loop_step 4

echo "== 5: both at once, the same field (Twenty newer, Supabase's webhook late)"
touch "$FWD_PAUSE"
supa "UPDATE contacts SET job_title = 'Supa Title' WHERE contact_id = '$LOOP_A'"
sleep 0.01
twenty_edit "$LOOP_A" '{"jobTitle": "Twenty Title"}'
loop_quiet >/dev/null || true
rm -f "$FWD_PAUSE"
loop_step 5

echo "== 6a: soft delete in Twenty; an older Supabase update of A arrives late"
touch "$FWD_PAUSE"
supa "UPDATE contacts SET department = 'Late Dept' WHERE contact_id = '$LOOP_A'"
sleep 0.01
twenty_api DELETE "people/$(twenty_py "by['$LOOP_A']['id']")?soft_delete=true"
loop_quiet >/dev/null || true
rm -f "$FWD_PAUSE"
loop_step 6a

echo "== 6b: DELETE in Supabase; B's last UPDATE arrives after the DELETE"
touch "$FWD_PAUSE"
supa "UPDATE contacts SET job_title = 'Late Title' WHERE contact_id = '$LOOP_B'"
supa "DELETE FROM contacts WHERE contact_id = '$LOOP_B'"
late_id=$(psql_q "SELECT id FROM syncrelay_test_webhooks WHERE NOT forwarded
                  AND body::jsonb->>'type' = 'UPDATE' ORDER BY id LIMIT 1")
[ -n "$late_id" ] || fail "6b: the UPDATE of B was not recorded"
psql_q "SELECT body FROM syncrelay_test_webhooks WHERE id = $late_id" >"$TEST_TMP/late.json"
psql_q "UPDATE syncrelay_test_webhooks SET forwarded = true WHERE id = $late_id" >/dev/null
rm -f "$FWD_PAUSE"
loop_quiet >/dev/null || LOOP_FAILED+=("6b: never quiet after the DELETE")
status=$(post_supabase "$TEST_TMP/late.json")
[ "$status" = 202 ] || [ "$status" = 200 ] ||
    LOOP_FAILED+=("6b: the late UPDATE answered $status: $(cat "$TEST_TMP/last_answer")")
loop_step 6b

# A clean stop (under ASan a leak or an error fails it here).
kill -TERM "$RELAY_PID"
relay_status=0
wait "$RELAY_PID" || relay_status=$?
keep=()
for p in "${LIB_PIDS[@]}"; do [ "$p" = "$RELAY_PID" ] || keep+=("$p"); done
LIB_PIDS=("${keep[@]}")
[ "$relay_status" = 0 ] || LOOP_FAILED+=("serve exited with $relay_status")

if [ ${#LOOP_FAILED[@]} -gt 0 ]; then
    echo "loop test: failed steps: ${LOOP_FAILED[*]}" >&2
    echo "relay log tail:" >&2
    grep -v ' level=info ' "$TEST_TMP/relay.log" | tail -n 15 >&2 || true
    exit 1
fi
echo "loop test: passed"
