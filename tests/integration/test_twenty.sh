#!/usr/bin/env bash
# Twenty as a destination, through the real daemon (`syncrelay serve`), a
# real redis-server and the fake Twenty (tests/fakes/fake_twenty.py):
#  1. a Supabase INSERT webhook reaches Twenty as a create carrying contactId;
#     Twenty's echo webhook comes back and is dropped (no second person);
#  2. an UPDATE reaches it as a PATCH with whole composites (name, phones);
#  3. a change older than an edit made in Twenty (whose webhook was lost)
#     does not overwrite that field (read-before-write);
#  4. a DELETE becomes a soft delete;
#  5. 429 answers are retried until the person is written;
# Pacing is test_twenty_pacing.sh.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/twenty_lib.sh"
: "${SYNCRELAY_BIN:?}" "${RELAY_FIXTURES:?}"

lib_init
start_redis
RELAY_PORT=$(free_port)
start_fake_twenty
start_relay

CID=CNT-000187
# 1. create
status=$(post_supabase "$RELAY_FIXTURES/supabase/contacts.insert.json")
assert_eq 202 "$status" "insert accepted"
wait_twenty "'$CID' in by"
assert_eq "Director of Procurement" "$(twenty_py "by['$CID']['jobTitle']")" "jobTitle created"
assert_eq "+1" "$(twenty_py "by['$CID']['phones']['primaryPhoneCallingCode']")" "phone split"
assert_eq "CLIENT" "$(twenty_py "by['$CID']['relationshipType']")" "SELECT value upper case"
# The echo (person.created with contactId) is accepted by syncrelay and
# must not come back to Twenty as a second person or as a write.
wait_twenty "W['pending'] == 0 and len(W['sent']) >= 1"
assert_eq "True" "$(twenty_py "all(s['status'] in (200, 202) for s in W['sent'])")" "echo answered"
sleep 1
assert_eq 1 "$(twenty_py "len(R)")" "one person"
assert_eq "{'create': 1, 'created_records': 1}" "$(twenty_py "S['writes']")" "only the create"

# 2. update with whole composites: first_name and phones change.
body=$(supabase_body UPDATE '{"record": {"first_name": "Maria", "job_title": "VP, Procurement",
  "phones": ["+14155550199"], "updated_at": "2024-11-12T08:41:19.27+00:00"}}')
echo "$body" >"$TEST_TMP/update.json"
assert_eq 202 "$(post_supabase "$TEST_TMP/update.json")" "update accepted"
wait_twenty "S['writes'].get('update', 0) == 1"
patch=$(twenty_py "[l['body'] for l in S['log'] if l['method'] == 'PATCH'][0]")
assert_eq "Maria" "$(twenty_py "by['$CID']['name']['firstName']")" "first name"
assert_eq "Núñez-O'Connor" "$(twenty_py "by['$CID']['name']['lastName']")" "last name kept"
assert_eq "True" "$(twenty_py "[l['body'] for l in S['log'] if l['method'] == 'PATCH'][0]['name'].keys() == {'firstName', 'lastName'}")" "PATCH name has both parts: $patch"
assert_eq "4155550199" "$(twenty_py "by['$CID']['phones']['primaryPhoneNumber']")" "phone patched"
assert_eq "VP, Procurement" "$(twenty_py "by['$CID']['jobTitle']")" "jobTitle patched"

# 3. read-before-write: an edit in Twenty whose webhook is lost, then an
# older Supabase change of the same field and a new one of another field.
twenty_ctl POST config '{"webhook_url": ""}' >/dev/null
id=$(twenty_py "by['$CID']['id']")
twenty_ctl POST "edit/$id" '{"jobTitle": "Chief Procurement Officer"}' >/dev/null
body=$(supabase_body UPDATE '{"record": {"job_title": "Stale title", "nickname": "MJ",
  "updated_at": "2025-01-01T00:00:00+00:00"}}')
echo "$body" >"$TEST_TMP/stale.json"
assert_eq 202 "$(post_supabase "$TEST_TMP/stale.json")" "older update accepted by the arbiter"
sleep 1.5
assert_eq "Chief Procurement Officer" "$(twenty_py "by['$CID']['jobTitle']")" "Twenty's newer edit stands"
wait_twenty "by['$CID']['nickname'] == 'MJ'"
twenty_ctl POST config "{\"webhook_url\": \"http://127.0.0.1:$RELAY_PORT/v1/webhooks/twenty\"}" >/dev/null

# 4. delete -> soft delete
body=$(supabase_body DELETE '{"old_record": {"updated_at": "2030-01-01T00:00:00+00:00"}}' contacts.delete.json)
echo "$body" >"$TEST_TMP/delete.json"
assert_eq 202 "$(post_supabase "$TEST_TMP/delete.json")" "delete accepted"
wait_twenty "S['writes'].get('soft_delete', 0) == 1"
assert_eq "True" "$(twenty_py "by['$CID']['deletedAt'] is not None")" "soft-deleted, still there"
assert_eq 0 "$(twenty_py "S['writes'].get('destroy', 0)")" "not destroyed"

# 5. 429 is retried: Twenty allows 3 requests a minute now.
twenty_ctl POST config '{"rate_limit": 3}' >/dev/null
for i in 1 2; do
    body=$(supabase_body INSERT "{\"record\": {\"contact_id\": \"CNT-R$i\", \"id\": \"00000000-0000-4000-8000-00000000000$i\"}}" contacts.insert.json)
    echo "$body" >"$TEST_TMP/r$i.json"
    assert_eq 202 "$(post_supabase "$TEST_TMP/r$i.json")" "insert R$i"
done
wait_twenty "S['rate_limited'] >= 1"
twenty_ctl POST config '{"rate_limit": 0}' >/dev/null
wait_twenty "'CNT-R1' in by and 'CNT-R2' in by"
assert_eq 3 "$(twenty_py "len(R)")" "each person once (the deleted one included)"
echo "twenty scenario ok: $(twenty_py "S['writes']")"
