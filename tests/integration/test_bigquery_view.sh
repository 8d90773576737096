#!/usr/bin/env bash
# Reading back from BigQuery: changes go in through the sink (GCE metadata
# token source), then jobs.query on the `contacts` view is read with paging
# and job polling, decoded from the f/v format, and compared with the
# view's rule written out by hand here over the rows the fake recorded:
# per contact and per field, the value of the newest change of THAT field
# (a change to null wins; an older change arriving late loses; a delete
# wins a version tie; ids are merged, never cleared).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lib_init

DRIVER=${RELAY_BUILD_DIR:?RELAY_BUILD_DIR is set by ctest}/tests/bigquery_driver
SCHEMA=$REPO_DIR/deploy/bigquery/contacts_changes.schema.json
PY=/usr/bin/python3

BQ_PORT=$(free_port)
$PY "$REPO_DIR/tests/fakes/fake_bigquery.py" "$BQ_PORT" --schema "$SCHEMA" \
    >"$TEST_TMP/fake.out" 2>"$TEST_TMP/fake.err" &
LIB_PIDS+=($!)
wait_for grep -q "^PORT $BQ_PORT" "$TEST_TMP/fake.out"
BASE=http://127.0.0.1:$BQ_PORT
control() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$BASE/_control" >/dev/null; }
stat() { curl -sf "$BASE/_rows" | $PY -c "import json,sys; print(json.load(sys.stdin)['stats']['$1'])"; }
export BQ_ENDPOINT=$BASE BQ_METADATA_URL=$BASE BQ_NO_MAPPING=1 BQ_RETRY_MS=50

cat >"$TEST_TMP/gen.py" <<'EOF'
import hashlib, json
n = 0
def ev(cid, version, changed, fields, op="upsert", source="twenty", extra=None, eid=None):
    global n
    n += 1
    e = {"v": 1, "id": eid or hashlib.sha256(b"%d" % n).hexdigest()[:16], "source": source,
         "object": "contact", "op": op, "contact_id": cid,
         "version": "2024-11-%02dT00:00:00.000000Z" % version,
         "received_at": "2024-12-01T00:00:%02d.000000Z" % n, "fields": fields,
         "changed": changed, "attempts": 0}
    if extra is not None:
        e["extra"] = extra
    print(json.dumps(e))
# A: out-of-order versions, a change to null, identity merge, extra per source
ev("A", 1, ["full_name", "tags", "social_network", "relationship_strength", "updated_at"],
   {"full_name": "A1", "twenty_id": "T-A", "tags": ["x", "y"], "social_network": {"a": [1, "é"]},
    "relationship_strength": 0.5, "updated_at": "2024-11-01T00:00:00.000000Z"},
   extra={"twenty": {"city": "London"}})
ev("A", 3, ["full_name"], {"full_name": "A3", "twenty_id": "T-A"})
ev("A", 2, ["full_name", "job_title", "supabase_id"],
   {"full_name": "A2", "job_title": "J2", "supabase_id": "S-A", "twenty_id": None},
   source="supabase", extra={"supabase": {"legacy": 7}})
ev("A", 4, ["full_name", "tags"], {"full_name": None, "tags": []})
ev("A", 4, ["full_name", "tags"], {"full_name": None, "tags": []}, eid="dup0000000000001")
ev("A", 4, ["full_name", "tags"], {"full_name": None, "tags": []}, eid="dup0000000000001")
# B: deleted, then restored
ev("B", 2, ["deleted_at"], {"deleted_at": "2024-11-02T00:00:00.000000Z"}, op="delete")
ev("B", 3, ["deleted_at", "full_name"], {"deleted_at": None, "full_name": "B"})
# C: an upsert and a delete with the same version: the delete wins
ev("C", 5, ["deleted_at", "llm_updated_at"],
   {"deleted_at": None, "llm_updated_at": "2024-11-05T01:02:03.000004Z"})
ev("C", 5, ["deleted_at"], {"deleted_at": "2024-11-05T00:00:00.000000Z"}, op="delete")
# D..H: more contacts for paging
for i, cid in enumerate("DEFGH"):
    ev(cid, 1, ["company"], {"company": "Co %d" % i})
EOF
$PY "$TEST_TMP/gen.py" >"$TEST_TMP/events.jsonl"
"$DRIVER" write "$TEST_TMP/events.jsonl" >"$TEST_TMP/out" 2>"$TEST_TMP/err" ||
    fail "write: $(cat "$TEST_TMP/err")"
assert_eq "summary ok=15 dead=0 gaveup=0 retries=0" "$(grep ^summary "$TEST_TMP/out")" "write"
assert_eq 14 "$(stat rows_stored)" "rows (one duplicate insertId dropped)"
[ "$(stat tokens_issued)" -ge 1 ] || fail "no token from the metadata server"

echo "== jobs.query with polling and paging"
control '{"job_polls": 2}'
BQ_PAGE_SIZE=2 "$DRIVER" query >"$TEST_TMP/view.jsonl" 2>"$TEST_TMP/err" ||
    fail "query: $(cat "$TEST_TMP/err")"
assert_eq 8 "$(wc -l <"$TEST_TMP/view.jsonl")" "contacts read"
assert_eq 5 "$(stat polls)" "getQueryResults calls: 2 polls (the 2nd completes with page 1) + 3 pages"

cat >"$TEST_TMP/byhand.py" <<'EOF'
# The contacts view's rule, written out by hand over the recorded rows.
import json, sys
recorded = json.load(open(sys.argv[1]))["rows"]
schema = json.load(open(sys.argv[2]))
read = [json.loads(l) for l in open(sys.argv[3])]
fields = [c for c in schema[7:] if c["name"] not in ("sync_metadata", "extra")]
rows = [r["json"] for r in recorded]
def newest_first(rs):
    return sorted(rs, key=lambda r: (r["version"], r["op"] != "upsert", r["received_at"],
                                     r["event_id"]), reverse=True)
def canon(col, v):
    if v is not None and col["type"] == "JSON":
        return json.loads(v)
    return v
expected = []
for cid in sorted({r["contact_id"] for r in rows}):
    mine = newest_first([r for r in rows if r["contact_id"] == cid])
    c = {"contact_id": cid}
    for col in fields:
        name = col["name"]
        if name in ("twenty_id", "supabase_id"):
            vals = [r[name] for r in mine if r.get(name) is not None]
            c[name] = vals[0] if vals else None
            continue
        changes = [r for r in mine if name in r["changed"]]
        empty = [] if col["mode"] == "REPEATED" else None
        c[name] = canon(col, changes[0].get(name, empty)) if changes else empty
    extra = {}
    for src in ("twenty", "supabase"):
        vals = [json.loads(r["extra"]).get(src) for r in mine if r.get("extra")]
        vals = [v for v in vals if v is not None]
        if vals:
            extra[src] = vals[0]
    c["extra"] = extra
    expected.append(c)
if read != expected:
    for a, b in zip(read, expected):
        if a != b:
            print("read:    ", json.dumps(a, sort_keys=True), file=sys.stderr)
            print("by hand: ", json.dumps(b, sort_keys=True), file=sys.stderr)
    sys.exit(1)
by_id = {c["contact_id"]: c for c in read}
a, b, c = by_id["A"], by_id["B"], by_id["C"]
assert a["full_name"] is None, a            # the change to null (v4) wins
assert a["job_title"] == "J2", a           # v2 arrived after v3 and still sets job_title
assert a["tags"] == [] and a["twenty_id"] == "T-A" and a["supabase_id"] == "S-A", a
assert a["social_network"] == {"a": [1, "é"]} and a["relationship_strength"] == 0.5, a
assert a["updated_at"] == "2024-11-01T00:00:00.000000Z", a
assert a["extra"] == {"twenty": {"city": "London"}, "supabase": {"legacy": 7}}, a
assert b["deleted_at"] is None and b["full_name"] == "B", b      # restored
assert c["deleted_at"] == "2024-11-05T00:00:00.000000Z", c        # delete wins the tie
assert c["llm_updated_at"] == "2024-11-05T01:02:03.000004Z", c
assert by_id["D"]["tags"] == [] and by_id["D"]["full_name"] is None
EOF
curl -sf "$BASE/_rows" >"$TEST_TMP/rows.json"
$PY "$TEST_TMP/byhand.py" "$TEST_TMP/rows.json" "$SCHEMA" "$TEST_TMP/view.jsonl" ||
    fail "the view read back differs from the rule applied by hand"

echo "== one contact by parameter"
"$DRIVER" query C >"$TEST_TMP/one.jsonl" 2>"$TEST_TMP/err" || fail "query C: $(cat "$TEST_TMP/err")"
assert_eq 1 "$(wc -l <"$TEST_TMP/one.jsonl")" "contacts for C"
assert_eq "$(grep '"contact_id":"C"' "$TEST_TMP/view.jsonl")" "$(cat "$TEST_TMP/one.jsonl")" "C alone"

echo "== a refused static token fails the read"
if BQ_TOKEN=not-a-token "$DRIVER" query >"$TEST_TMP/out" 2>"$TEST_TMP/err"; then
    fail "a bogus static token was accepted"
fi
grep -q "HTTP 401" "$TEST_TMP/err" || fail "401 not reported: $(cat "$TEST_TMP/err")"

echo "test_bigquery_view: all scenarios passed"
