#!/usr/bin/env bash
# The BigQuery sink against tests/fakes/fake_bigquery.py, driven by
# bigquery_driver (the worker pool's stand-in: real sink, real threads,
# the pool's settle rules). A service-account key is generated here with
# openssl; the fake verifies the JWT against its public half.
# Scenarios: webhooks -> rows field by field; token expiry mid-run; a 503
# and 429 burst; a schema-breaking row dead-lettered alone; a hung endpoint;
# batch splitting at 500 rows; a key the server does not know.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lib_init

DRIVER=${RELAY_BUILD_DIR:?RELAY_BUILD_DIR is set by ctest}/tests/bigquery_driver
SCHEMA=$REPO_DIR/deploy/bigquery/contacts_changes.schema.json
FAKE=$REPO_DIR/tests/fakes/fake_bigquery.py
FIX=${RELAY_FIXTURES:?}
PY=/usr/bin/python3

# make_key DIR PORT KID: an RSA key pair and a service-account JSON whose
# token_uri points at the fake.
make_key() {
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1/key.pem" 2>/dev/null
    openssl pkey -in "$1/key.pem" -pubout -out "$1/pub.pem"
    KEY_PEM=$1/key.pem PORT=$2 KID=$3 $PY -c '
import json, os
print(json.dumps({"type": "service_account", "project_id": "test-project",
  "private_key_id": os.environ["KID"], "private_key": open(os.environ["KEY_PEM"]).read(),
  "client_email": "relay@test-project.iam.gserviceaccount.com",
  "token_uri": "http://127.0.0.1:%s/token" % os.environ["PORT"]}))' >"$1/sa.json"
}

BQ_PORT=$(free_port)
mkdir -p "$TEST_TMP/key" "$TEST_TMP/otherkey"
make_key "$TEST_TMP/key" "$BQ_PORT" kid-1
make_key "$TEST_TMP/otherkey" "$BQ_PORT" kid-1
$PY "$FAKE" "$BQ_PORT" --schema "$SCHEMA" --pubkey "$TEST_TMP/key/pub.pem" --kid kid-1 \
    --client-email relay@test-project.iam.gserviceaccount.com >"$TEST_TMP/fake.out" \
    2>"$TEST_TMP/fake.err" &
LIB_PIDS+=($!)
wait_for grep -q "^PORT $BQ_PORT" "$TEST_TMP/fake.out"
BASE=http://127.0.0.1:$BQ_PORT

control() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$BASE/_control" >/dev/null; }
rows() { curl -sf "$BASE/_rows"; }
stat() { rows | $PY -c "import json,sys; print(json.load(sys.stdin)['stats']['$1'])"; }

# drive FILE [VAR=VALUE...]: runs the driver with the key; output in $TEST_TMP/out.
drive() {
    local file=$1
    shift
    env BQ_ENDPOINT="$BASE" BQ_CREDENTIALS="$TEST_TMP/key/sa.json" BQ_RETRY_MS=50 "$@" \
        "$DRIVER" write "$file" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || {
        cat "$TEST_TMP/out" "$TEST_TMP/err" >&2
        return 1
    }
}
summary() { grep '^summary' "$TEST_TMP/out"; }

# gen_envelopes N PREFIX [BAD_INDEX]: N queue envelopes (contacts PREFIX-i);
# the BAD_INDEX-th carries a string where the table wants a FLOAT.
gen_envelopes() {
    N=$1 PREFIX=$2 BAD=${3:--1} $PY -c '
import json, os, hashlib
n, prefix, bad = int(os.environ["N"]), os.environ["PREFIX"], int(os.environ["BAD"])
for i in range(n):
    ev = {"v": 1, "id": hashlib.sha256(("%s-%d" % (prefix, i)).encode()).hexdigest()[:16],
          "source": "twenty", "object": "contact", "op": "upsert",
          "contact_id": "%s-%d" % (prefix, i), "version": "2024-11-12T08:41:19.%06dZ" % i,
          "received_at": "2024-11-12T08:41:20.000000Z",
          "fields": {"full_name": "Person %d" % i, "relationship_strength": 0.5,
                     "social_network": {"n": i}, "tags": None},
          "changed": ["full_name", "relationship_strength", "social_network", "tags"],
          "attempts": 0}
    if i == bad:
        ev["fields"]["relationship_strength"] = "high"
    print(json.dumps(ev))'
}

echo "== webhooks in -> rows field by field"
$PY - "$FIX" >"$TEST_TMP/webhooks.jsonl" <<'EOF'
import json, sys
fix = sys.argv[1]
ins = json.load(open(fix + "/supabase/contacts.insert.json"))
print(json.dumps({"webhook": "supabase", "body": ins}))
print(json.dumps({"webhook": "twenty", "body": json.load(open(fix + "/twenty/person.updated.json"))}))
nulls = json.loads(json.dumps(ins))
nulls["record"].update({"id": "5d1c0c3e-0000-4000-8000-000000000001", "contact_id": "CNT-NULLS",
                        "tags": None, "social_network": None, "phones": None})
print(json.dumps({"webhook": "supabase", "body": nulls}))
EOF
drive "$TEST_TMP/webhooks.jsonl"
assert_eq "summary ok=3 dead=0 gaveup=0 retries=0" "$(summary)" "webhook summary"
cat >"$TEST_TMP/check_webhooks.py" <<'EOF'
import json, sys
fix, schema = sys.argv[1], json.load(open(sys.argv[2]))
rows = {r["json"]["contact_id"]: r for r in json.load(sys.stdin)["rows"]}
assert len(rows) == 3, rows.keys()
src = json.load(open(fix + "/supabase/contacts.insert.json"))["record"]
r = rows["CNT-000187"]["json"]
assert rows["CNT-000187"]["insertId"] == r["event_id"]
assert r["op"] == "upsert" and r["source"] == "supabase"
assert r["version"] == "2024-11-05T14:23:07.004917Z", r["version"]
assert r["supabase_id"] == src["id"]
for k in ("full_name", "display_name", "first_name", "last_name", "company", "job_title",
          "llm_summary", "nickname", "relationship_type", "name_prefix"):
    assert r[k] == src[k], k
for k in ("social_network", "llm_context", "ai_insights", "communication_stats"):
    assert isinstance(r[k], str), k            # JSON columns: JSON-encoded strings
    assert json.loads(r[k]) == src[k], k
for k in ("tags", "emails", "phones"):
    assert r[k] == src[k], k                   # arrays stay arrays
assert r["relationship_strength"] == 0.72
assert r["created_at"] == "2024-03-18T09:12:44.518203Z"
assert r["llm_updated_at"] == "2024-11-05T14:22:58.431000Z"
assert r["middle_name"] is None and "middle_name" in r["changed"]
assert "sync_metadata" not in r                # syncrelay's own, never copied
assert set(r) <= {c["name"] for c in schema}
n = rows["CNT-NULLS"]["json"]
assert n["tags"] == [] and n["phones"] == [], n  # null text[] -> []
assert n["social_network"] is None and "social_network" in n["changed"]
t = rows["a1f3c5e7-2b4d-4f60-8a9c-1e3d5f7b9c02"]["json"]
assert t["source"] == "twenty" and t["changed"] == ["job_title", "phones", "updated_at"], t
assert t["phones"] == ["+447700900456", "+442079460000"]
assert json.loads(t["extra"])["twenty"]["city"] == "London"
EOF
rows | $PY "$TEST_TMP/check_webhooks.py" "$FIX" "$SCHEMA" || fail "webhook rows differ"

echo "== token expiry mid-run: refreshed, nothing lost or duplicated"
control '{"reset": true, "token_uses": 4}'
gen_envelopes 60 EXP >"$TEST_TMP/exp.jsonl"
drive "$TEST_TMP/exp.jsonl" BQ_BATCH=3 BQ_WORKERS=3
[ "$(grep -c ' ok ' "$TEST_TMP/out")" = 60 ] || fail "token expiry: not every event ok"
assert_eq 60 "$(stat rows_stored)" "rows stored once each"
assert_eq 0 "$(stat rows_deduped)" "no resend of a stored row"
[ "$(stat tokens_issued)" -ge 5 ] || fail "token was not refreshed ($(stat tokens_issued))"
[ "$(stat rejected_tokens)" -ge 1 ] || fail "no request met an expired token"
control '{"token_uses": 0}'

echo "== a 503 and 429 burst is retried"
control '{"reset": true, "fail": 503, "count": 3}'
gen_envelopes 20 BURST >"$TEST_TMP/burst.jsonl"
drive "$TEST_TMP/burst.jsonl" BQ_BATCH=5 BQ_WORKERS=1
[ "$(grep -c ' ok ' "$TEST_TMP/out")" = 20 ] || fail "503 burst: not every event ok"
assert_eq 3 "$(stat failures_served)" "503s served"
assert_eq 20 "$(stat rows_stored)" "rows after 503 burst"
grep -q 'retries=0' "$TEST_TMP/out" && fail "503s were not counted as retries"
control '{"reset": true, "fail": 429, "count": 2}'
drive "$TEST_TMP/burst.jsonl" BQ_BATCH=20 BQ_WORKERS=1
assert_eq "summary ok=20 dead=0 gaveup=0 retries=40" "$(summary)" "429 burst"
assert_eq 20 "$(stat rows_stored)" "rows after 429 burst"

echo "== one schema-breaking row is dead-lettered alone"
control '{"reset": true}'
gen_envelopes 10 BAD 4 >"$TEST_TMP/bad.jsonl"
drive "$TEST_TMP/bad.jsonl" BQ_NO_MAPPING=1 BQ_BATCH=10 BQ_WORKERS=1
assert_eq "summary ok=9 dead=1 gaveup=0 retries=0" "$(summary)" "bad row summary"
assert_eq 9 "$(stat rows_stored)" "neighbours of the bad row"
assert_eq 1 "$(stat invalid_rows)" "invalid rows seen"
assert_eq 2 "$(stat insert_requests)" "first try + one resend of the stopped rows"
rows | $PY -c '
import json, sys
ids = {r["json"]["contact_id"] for r in json.load(sys.stdin)["rows"]}
assert "BAD-4" not in ids and len(ids) == 9, ids' || fail "the bad row was stored"

echo "== a hung endpoint times out and is retried"
control '{"reset": true, "hang": 3, "count": 1}'
gen_envelopes 5 HANG >"$TEST_TMP/hang.jsonl"
drive "$TEST_TMP/hang.jsonl" BQ_TIMEOUT_MS=500 BQ_BATCH=5 BQ_WORKERS=1
assert_eq "summary ok=5 dead=0 gaveup=0 retries=5" "$(summary)" "hang summary"
assert_eq 1 "$(stat hangs_served)" "hangs served"
assert_eq 5 "$(stat rows_stored)" "rows after the hang"

echo "== 1200 events go as 500 + 500 + 200 rows"
control '{"reset": true}'
gen_envelopes 1200 BIG >"$TEST_TMP/big.jsonl"
drive "$TEST_TMP/big.jsonl" BQ_BATCH=1200 BQ_WORKERS=1
assert_eq "summary ok=1200 dead=0 gaveup=0 retries=0" "$(summary)" "big batch"
assert_eq 3 "$(stat insert_requests)" "requests for 1200 rows"
assert_eq 500 "$(stat max_rows_per_request)" "largest request"
assert_eq 1200 "$(stat rows_stored)" "rows stored"

echo "== a key the server does not know: refused, retried, given up"
control '{"reset": true}'
gen_envelopes 2 NOKEY >"$TEST_TMP/nokey.jsonl"
if env BQ_ENDPOINT="$BASE" BQ_CREDENTIALS="$TEST_TMP/otherkey/sa.json" BQ_RETRY_MS=10 \
    BQ_MAX_ATTEMPTS=2 "$DRIVER" write "$TEST_TMP/nokey.jsonl" >"$TEST_TMP/out" 2>"$TEST_TMP/err"; then
    fail "a foreign key was accepted"
fi
assert_eq "summary ok=0 dead=0 gaveup=2 retries=4" "$(summary)" "foreign key"
grep -q "credentials refused" "$TEST_TMP/err" || fail "no auth error reported"
assert_eq 0 "$(stat tokens_issued)" "tokens for a foreign key"
assert_eq 0 "$(stat rows_stored)" "rows for a foreign key"

echo "test_bigquery: all scenarios passed"
