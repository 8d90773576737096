#!/usr/bin/env bash
# `syncrelay verify` (issue 7), against a real PostgreSQL and SQLite file
# filled by a real push through redis-server and `serve --role workers`:
#  1. after the push every contact agrees: exit 0, text and --json;
#  2. a field changed directly in SQLite is reported by name with both
#     values, exit 1, by --contact-id, --all (count per field) and --json;
#     push --verify fails on it too;
#  3. a contact missing in one system, or in all, is a difference;
#  4. the documented equivalences: an id one system has not learnt yet
#     (null supabase_id) is no difference but two different ids are;
#     1 == 1.0; a null text[] == []; "" != null;
#  5. an unreadable system is a runtime failure (exit 1); bad usage exit 2.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deliver_common.sh" # config, rcli, workers, wait_drained
lib_init
start_redis
start_postgres
deliver_setup

psql_q "INSERT INTO contacts (contact_id, full_name, job_title, relationship_strength, tags,
          emails, social_network, created_at, updated_at)
        SELECT format('C-%s', lpad(i::text, 5, '0')), 'Person ' || i, 'Engineer', i / 100.0,
          '[\"a\", \"b\"]', jsonb_build_array('p' || i || '@example.com'),
          jsonb_build_object('k', i), '2024-01-01T00:00:00Z',
          '2025-01-01T00:00:00Z'::timestamptz + i * interval '1 minute'
        FROM generate_series(1, 100) AS i"
"$BIN" --config "$CONF" push --source supabase --quiet >/dev/null
start_workers
wait_drained 30
lite() { sqlite3 "$LITE_DB" "$1"; }

# verify_rc ARGS...: runs verify, output in $TEST_TMP/v.out, prints the exit status.
verify_rc() {
    set +e
    "$BIN" --config "$CONF" verify "$@" >"$TEST_TMP/v.out" 2>"$TEST_TMP/v.err"
    echo $?
    set -e
}
json_get() { python3 -c "import json,sys; d=json.load(open('$TEST_TMP/v.out')); print($1)"; }

# 1. everything agrees
assert_eq 0 "$(verify_rc --contact-id C-00010)" "verify one after the push"
assert_eq "contact C-00010: the 2 systems agree" "$(cat "$TEST_TMP/v.out")" "agree message"
assert_eq 0 "$(verify_rc --contact-id C-00010 --json)" "verify --json"
assert_eq "True [] [] ['postgres', 'sqlite']" \
    "$(json_get "d['agree'], d['differences'], d['missing'], d['systems']")" "json agree"
assert_eq 0 "$(verify_rc --all)" "verify --all after the push"

# 2. a diverged field
lite "UPDATE contacts SET job_title = 'Diverged' WHERE contact_id = 'C-00010'"
assert_eq 1 "$(verify_rc --contact-id C-00010)" "verify one diverged contact"
grep -q "^contact C-00010: 1 field(s) differ" "$TEST_TMP/v.out" || fail "$(cat "$TEST_TMP/v.out")"
grep -Eq '^job_title +"Engineer" +"Diverged" *$' "$TEST_TMP/v.out" || fail "table: $(cat "$TEST_TMP/v.out")"
assert_eq 1 "$(verify_rc --contact-id C-00010 --json)" "verify --json diverged"
assert_eq "False job_title Engineer Diverged" \
    "$(json_get "d['agree'], d['differences'][0]['field'], d['differences'][0]['values']['postgres'], d['differences'][0]['values']['sqlite']")" \
    "json difference"
assert_eq 1 "$(verify_rc --all)" "verify --all with one diverged field"
grep -q "^contacts that differ: 1" "$TEST_TMP/v.out" || fail "$(cat "$TEST_TMP/v.out")"
grep -Eq "^job_title +1$" "$TEST_TMP/v.out" || fail "count per field: $(cat "$TEST_TMP/v.out")"
assert_eq 1 "$(verify_rc --all --json)" "verify --all --json"
assert_eq "100 1 {'job_title': 1} ['C-00010']" \
    "$(json_get "d['contacts'], d['differing'], d['fields'], d['examples']")" "json scan"
set +e
"$BIN" --config "$CONF" push --source supabase --contact-id C-00010 --verify --quiet >"$TEST_TMP/pv.out" 2>&1
rc=$?
set -e
assert_eq 1 "$rc" "push --verify reports the divergence (the push itself is a duplicate)"
grep -q "job_title" "$TEST_TMP/pv.out" || fail "push --verify output: $(cat "$TEST_TMP/pv.out")"
lite "UPDATE contacts SET job_title = 'Engineer' WHERE contact_id = 'C-00010'"
assert_eq 0 "$(verify_rc --contact-id C-00010)" "repaired"

# 3. missing contacts
lite "DELETE FROM contacts WHERE contact_id = 'C-00020'"
assert_eq 1 "$(verify_rc --contact-id C-00020)" "missing in sqlite"
grep -q "^contact C-00020: missing in sqlite" "$TEST_TMP/v.out" || fail "$(cat "$TEST_TMP/v.out")"
assert_eq 1 "$(verify_rc --all)" "--all with a missing contact"
grep -Eq "^\(missing in sqlite\) +1$" "$TEST_TMP/v.out" || fail "$(cat "$TEST_TMP/v.out")"
assert_eq 1 "$(verify_rc --contact-id NOBODY)" "a contact nobody holds"
grep -q "^contact NOBODY: not found in any system" "$TEST_TMP/v.out" || fail "$(cat "$TEST_TMP/v.out")"
# push --source all of one contact: a system that lacks it is no failure
out=$("$BIN" --config "$CONF" push --source all --contact-id C-00020 --quiet 2>"$TEST_TMP/one.err") ||
    fail "push all --contact-id: $(cat "$TEST_TMP/one.err")"
grep -q "^push postgres: read 1, queued 0, unchanged 1, stale 0, failed 0$" <<<"$out" || fail "$out"
grep -q "contact C-00020 is not in sqlite" "$TEST_TMP/one.err" || fail "$(cat "$TEST_TMP/one.err")"
psql_q "DELETE FROM contacts WHERE contact_id = 'C-00020'"

# 4. equivalences and their limits
lite "UPDATE contacts SET supabase_id = NULL WHERE contact_id = 'C-00030'"
assert_eq 0 "$(verify_rc --contact-id C-00030)" "an id not learnt yet is no difference"
lite "UPDATE contacts SET supabase_id = '00000000-0000-0000-0000-000000000000' WHERE contact_id = 'C-00030'"
assert_eq 1 "$(verify_rc --contact-id C-00030)" "two different ids"
grep -q "^supabase_id " "$TEST_TMP/v.out" || fail "$(cat "$TEST_TMP/v.out")"
psql_q "UPDATE contacts SET relationship_strength = 1, tags = '[]' WHERE contact_id = 'C-00040'"
lite "UPDATE contacts SET relationship_strength = 1.0, tags = NULL,
      updated_at = '$(psql_q "SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM contacts WHERE contact_id = 'C-00040'")'
      WHERE contact_id = 'C-00040'"
assert_eq 0 "$(verify_rc --contact-id C-00040)" "1 == 1.0 and null text[] == []: $(cat "$TEST_TMP/v.out")"
lite "UPDATE contacts SET nickname = '' WHERE contact_id = 'C-00050'"
assert_eq 1 "$(verify_rc --contact-id C-00050)" "empty string is not null"
grep -Eq '^nickname +null +""' "$TEST_TMP/v.out" || fail "$(cat "$TEST_TMP/v.out")"

# 5. failures and usage
sed "s|path: \"$LITE_DB\"|path: \"$TEST_TMP/none/lite.db\"|" "$CONF" >"$TEST_TMP/broken.yaml"
set +e
"$BIN" --config "$TEST_TMP/broken.yaml" verify --contact-id C-00001 >/dev/null 2>"$TEST_TMP/broken.err"
rc=$?
set -e
assert_eq 1 "$rc" "an unreadable system"
grep -q "sqlite open $TEST_TMP/none/lite.db" "$TEST_TMP/broken.err" || fail "$(cat "$TEST_TMP/broken.err")"
assert_eq 2 "$(verify_rc)" "verify without arguments"
assert_eq 2 "$(verify_rc --all --contact-id C-00001)" "both --all and --contact-id"
assert_eq 2 "$(verify_rc --contact-id)" "--contact-id without a value"
assert_eq 2 "$(verify_rc --all --bogus)" "unknown option"

stop_workers
echo "test_verify: ok"
