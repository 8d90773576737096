#!/usr/bin/env bash
# `syncrelay transform`: every fixture to the canonical event and to every
# system, canonical input, a user's mapping file with a custom field, and
# every kind of bad input with its exit status (0 ok / quarantine warned,
# 2 bad input or --strict), stdout and the exact stderr line. Needs no
# servers: transform only runs the mapper.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lib_init
: "${SYNCRELAY_BIN:?set SYNCRELAY_BIN to the syncrelay binary}"
: "${RELAY_FIXTURES:=$REPO_DIR/../shared/fixtures}"
for v in $(env | sed -n 's/^\(SYNCRELAY_[A-Z0-9_]*\)=.*/\1/p'); do
    [ "$v" = SYNCRELAY_BIN ] || unset "$v"
done
cd "$TEST_TMP"
TW=$RELAY_FIXTURES/twenty
SB=$RELAY_FIXTURES/supabase

# run ARGS... [< input]: runs syncrelay transform, sets OUT, ERR and STATUS.
run() {
    STATUS=0
    "$SYNCRELAY_BIN" transform "$@" >out.txt 2>err.txt || STATUS=$?
    OUT=$(cat out.txt)
    ERR=$(cat err.txt)
}

# jq-like check with the Python stdlib: json_is EXPR EXPECTED_JSON WHAT,
# EXPR a Python expression over `d` (stdout parsed).
json_is() {
    /usr/bin/python3 - "$1" "$2" "$3" <<'EOF' || fail "$3"
import json, sys
expr, want, what = sys.argv[1:4]
d = json.load(open("out.txt"))
got = eval(expr, {"d": d})
if got != json.loads(want):
    sys.exit(f"{what}: {expr} = {json.dumps(got, ensure_ascii=False)}, expected {want}")
EOF
}

expect() { # expect STATUS STDERR_TEXT WHAT: status and the whole of stderr
    assert_eq "$1" "$STATUS" "$3: exit status"
    assert_eq "$2" "$ERR" "$3: stderr"
}

# 1. Every fixture to the canonical event.
run --from twenty --to canonical "$TW/person.created.json"
expect 0 "" "person.created"
json_is 'd["op"]' '"upsert"' "created op"
json_is 'd["contact_id"]' '"a1f3c5e7-2b4d-4f60-8a9c-1e3d5f7b9c02"' "created contact_id"
json_is 'd["changed"]' '["twenty_id","first_name","last_name","job_title","created_at","updated_at","deleted_at","emails","phones"]' "created changed"
json_is 'd["fields"]["phones"]' '["+447700900123"]' "created phones"
json_is 'sorted(d)' '["changed","contact_id","extra","fields","id","op","record_id","source","version"]' "event keys"

run --from twenty --to canonical "$TW/person.updated.json"
expect 0 "" "person.updated"
json_is 'd["changed"]' '["job_title","phones","updated_at"]' "updated changed"
json_is 'd["version"]' '"2025-06-02T14:02:10.964000Z"' "updated version"
json_is 'd["extra"]["twenty"]["city"]' '"London"' "updated extra"

run --from twenty --to canonical "$TW/person.deleted.json"
expect 0 "" "person.deleted"
json_is '[d["op"], d["changed"], d["fields"]["deleted_at"]]' '["delete",["deleted_at"],"2025-06-03T08:44:52.210000Z"]' "deleted"

run --from twenty --to canonical "$TW/person.updated.custom-fields.json"
expect 0 "" "custom-fields"
json_is 'd["changed"]' '["updated_at"]' "custom-fields changed"
json_is 'd["extra"]["twenty"]["leadScore"]' '87.5' "custom field kept in extra"

run --from twenty --to canonical "$TW/person.updated.mapped.json"
expect 0 "" "mapped"
json_is '[d["contact_id"], d["fields"]["relationship_type"], d["fields"]["relationship_strength"]]' '["CNT-004711","board_member",0.35]' "mapped fields"
json_is 'd["fields"]["emails"]' '["j.mueller@example-bank.de","jm@private.example"]' "mapped emails"
grep -qF '"relationship_strength": 0.35,' out.txt || fail "reals print at their shortest"

run --from twenty --to canonical "$TW/company.updated.json"
expect 0 'transform: ignored: twenty: object "company" is not synced' "company.updated"
json_is 'd' '{"ignored":"twenty: object \"company\" is not synced"}' "ignored answer"

run --from supabase --to canonical "$SB/contacts.insert.json"
expect 0 "" "insert"
json_is '[d["op"], d["contact_id"], d["record_id"], d["version"], "extra" in d]' '["upsert","CNT-000187","3f9c2a7e-8b41-4d2e-9a6f-1c5e7b0d4a92","2024-11-05T14:23:07.004917Z",true]' "insert"
json_is 'd["extra"]' '{}' "insert extra (the own extra column is never copied)"
run --from supabase --to canonical "$SB/contacts.update.json"
expect 0 "" "update"
json_is 'd["changed"]' '["middle_name","job_title","tags","updated_at"]' "update changed"
run --from supabase --to canonical "$SB/contacts.delete.json"
expect 0 "" "delete"
json_is '[d["op"], d["changed"], d["fields"]["deleted_at"]]' '["delete",["deleted_at"],"2024-11-12T08:41:19.270000Z"]' "delete"

# 2. What each system gets for the mapped fixture; stdin works too.
run --from twenty --to postgres <"$TW/person.updated.mapped.json"
expect 0 "" "to postgres"
json_is '[d["id"], d["tags"], d["extra"]["twenty"]["city"], list(d)[0], list(d)[-1]]' '["9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",["banking","dach","🏦 key-account"],"Zürich","contact_id","extra"]' "postgres row"
run --from twenty --to sqlite - <"$TW/person.updated.mapped.json"
expect 0 "" "to sqlite"
json_is '[d["tags"], d["llm_context"], json.loads(d["extra"])["twenty"]["position"]] if (json := __import__("json")) else 0' '["[\"banking\",\"dach\",\"🏦 key-account\"]","{\"last_thread\":\"fx hedging\",\"language\":\"de\"}",7]' "sqlite row"
run --from twenty --to bigquery "$TW/person.updated.mapped.json"
expect 0 "" "to bigquery"
json_is '[d["phones"], d["sync_metadata"], len(d)]' '[["+4930901820","+4915123456789"],"{\"origin\":\"twenty\"}",31]' "bigquery row"
run --from supabase --to twenty "$SB/contacts.update.json"
expect 0 "" "to twenty"
json_is '[d["name"], d["relationshipType"], d["llmContext"], d["phones"]["primaryPhoneCallingCode"]]' '[{"firstName":"María José","lastName":"Núñez-O'"'"'Connor"},"CLIENT","{\"tone\":\"formal\",\"last_thread\":\"renewal pricing\"}","+1"]' "twenty body"
json_is '[k for k in ("id","createdAt","updatedAt","deletedAt","extra","twentyId") if k in d]' '[]' "no system keys or extra in a Twenty body"

# 3. Bad input: exit 2 and what is wrong.
printf 'nope' >bad.json
run --from twenty --to canonical bad.json
expect 2 "transform: body is not JSON: '[' or '{' expected near 'nope' at line 1 column 4" "not JSON"
[ -z "$OUT" ] || fail "not JSON: no stdout expected"
printf '{"eventName":"person.updated","record":[]}' >bad.json
run --from twenty --to canonical bad.json
expect 2 'transform: twenty: "record" must be an object' "record not an object"
printf '{"eventName":"person.updated","record":{"updatedAt":"2025-06-02T14:02:10.964Z"}}' >bad.json
run --from twenty --to canonical bad.json
expect 2 'transform: twenty: record has no "id"' "no record id"
printf '{"type":"MERGE","table":"contacts","record":{}}' >bad.json
run --from supabase --to canonical bad.json
expect 2 'transform: supabase: "type" must be INSERT, UPDATE or DELETE' "supabase type"
run --from twenty --to canonical "$TEST_TMP/missing.json"
expect 2 "transform: $TEST_TMP/missing.json: No such file or directory" "missing file"
run --from csv --to canonical bad.json
assert_eq 2 "$STATUS" "unknown --from"
grep -qF 'transform: unknown --from "csv"' err.txt || fail "unknown --from message"
run --from twenty bad.json
assert_eq 2 "$STATUS" "no --to"
grep -qF 'usage: syncrelay transform --from' err.txt || fail "usage line"

# 4. Quarantine: warned, exit 0, raw value kept in extra; --strict exits 2.
REC='"id":"t-1","updatedAt":"2025-06-02T14:02:10.964Z"'
printf '{"eventName":"person.updated","record":{%s,"jobTitle":5,"nickname":"Jo"}}' "$REC" >q.json
run --from twenty --to canonical q.json
expect 0 "transform: warning: job_title: expected text, got number" "number where text expected"
json_is '[d["fields"].get("job_title", "absent"), d["extra"]["twenty"]["jobTitle"], d["quarantined"], d["changed"]]' '["absent",5,{"job_title":"expected text, got number"},["twenty_id","nickname","updated_at"]]' "quarantined field"
printf '{"eventName":"person.updated","record":{%s,"llmUpdatedAt":"2025-09-13T22:10:05"}}' "$REC" >q.json
run --from twenty --to canonical q.json
expect 0 "transform: warning: llm_updated_at: timestamp without offset" "timestamp without offset"
printf '{"eventName":"person.updated","record":{%s,"phones":{"primaryPhoneNumber":"7700 CALL","primaryPhoneCallingCode":"+44"}}}' "$REC" >q.json
run --from twenty --to canonical q.json
expect 0 "transform: warning: phones: primaryPhoneNumber: phone with letters" "phone with letters"
json_is 'd["extra"]["twenty"]["phones"]["primaryPhoneNumber"]' '"7700 CALL"' "raw phones kept"
run --from twenty --to postgres --strict q.json
expect 2 "transform: warning: phones: primaryPhoneNumber: phone with letters
transform: 1 field(s) quarantined (--strict)" "--strict"
[ -z "$OUT" ] || fail "--strict: no stdout expected"
run --from twenty --to postgres --strict "$TW/person.updated.json"
expect 0 "" "--strict on a clean body"

# 5. Canonical input: validated and normalised field by field.
printf '{"first_name":"Ada","relationship_type":"Board Member","created_at":"2024-11-12 08:41:19.27+00","emails":[" a@EXAMPLE.org ","a@example.org"],"extra":{"twenty":{"city":"Bath"}}}' >c.json
run --from canonical --to canonical c.json
expect 0 "" "canonical"
json_is 'd' '{"first_name":"Ada","relationship_type":"board_member","created_at":"2024-11-12T08:41:19.270000Z","emails":["a@example.org"],"extra":{"twenty":{"city":"Bath"}}}' "canonical normalised"
run --from canonical --to twenty c.json
expect 0 "" "canonical to twenty"
json_is 'd' '{"name":{"firstName":"Ada"},"relationshipType":"BOARD_MEMBER","emails":{"primaryEmail":"a@example.org","additionalEmails":[]}}' "canonical to twenty body"
printf '{"frist_name":"Ada"}' >c.json
run --from canonical --to postgres c.json
expect 2 'transform: unknown canonical field "frist_name"' "unknown canonical field"
printf '{"first_name":"Ada","extra":[]}' >c.json
run --from canonical --to postgres c.json
expect 2 'transform: canonical input must be an object ("extra": an object)' "extra not an object"
printf '{"first_name":"Ada","phones":["+44 7700 900456","+44 7700 CALL"]}' >c.json
run --from canonical --to postgres c.json
expect 0 "transform: warning: phones: phone with letters" "canonical phone with letters"
json_is 'd' '{"first_name":"Ada","extra":{"canonical":{"phones":["+44 7700 900456","+44 7700 CALL"]}}}' "canonical quarantine kept in extra"
printf '{"first_name":"Ada","tags":"vip"}' >c.json
run --from canonical --to sqlite --strict c.json
expect 2 "transform: warning: tags: expected array of text, got text
transform: 1 field(s) quarantined (--strict)" "canonical --strict"

# 6. A user's mapping file: a custom field maps in; a bad file is refused.
cp "$REPO_DIR/deploy/mappings/contact.yaml" custom.yaml
cat >>custom.yaml <<'EOF'
  - name: lead_score
    type: number
    twenty:   {column: leadScore}
    postgres: {column: lead_score}
    sqlite:   {column: lead_score}
    bigquery: {column: lead_score}
EOF
export SYNCRELAY_MAPPING_PATH=$TEST_TMP/custom.yaml
run --from twenty --to canonical "$TW/person.updated.custom-fields.json"
expect 0 "" "custom mapping"
json_is '[d["fields"]["lead_score"], d["changed"], "leadScore" in d["extra"]["twenty"]]' '[87.5,["lead_score","updated_at"],false]' "custom field mapped"
run --from twenty --to bigquery "$TW/person.updated.custom-fields.json"
json_is 'd["lead_score"]' '87.5' "custom field out"
sed -i "$(grep -n '^  - name: lead_score' custom.yaml | cut -d: -f1),\$ s/type: number/type: integer/" custom.yaml
run --from twenty --to canonical "$TW/person.updated.custom-fields.json"
line=$(grep -n 'type: integer$' custom.yaml | cut -d: -f1)
assert_eq 2 "$STATUS" "bad mapping exit status"
assert_eq "$TEST_TMP/custom.yaml:$line: field lead_score: unknown type \"integer\" (text, number, timestamp, json, json_object, text[])" "$ERR" "bad mapping message"
unset SYNCRELAY_MAPPING_PATH

echo "test_cmd_transform: ok"
