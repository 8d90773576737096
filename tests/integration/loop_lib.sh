# Helpers of the loop test (test_loop.sh), sourced after tests/lib.sh and
# twenty_lib.sh: the whole product wired as in production, on loopback.
#   PostgreSQL  deploy/sql/supabase.sql + deploy/sql/test_webhook_recorder.sql,
#               plus loop_pg_writes (a trigger logging every write)
#   forwarder   loop_forward.py: recorder table -> /v1/webhooks/supabase
#   Twenty      tests/fakes/fake_twenty.py, webhooks -> /v1/webhooks/twenty
#   BigQuery    tests/fakes/fake_bigquery.py (service-account key from openssl)
#   SQLite      a real file, plus loop_lite_writes (a trigger logging writes)
#   redis       a private redis-server; the daemon is `syncrelay serve` (all roles)
# Not a scenario itself.

LOOP_PY=/usr/bin/python3
LOOP_DIR_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# loop_start_postgres: schema, recorder, and the write log.
loop_start_postgres() {
    start_postgres
    PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -f "$REPO_DIR/deploy/sql/supabase.sql" >/dev/null
    PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -f "$REPO_DIR/deploy/sql/test_webhook_recorder.sql" >/dev/null
    psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE loop_pg_writes (id bigserial PRIMARY KEY, contact_id text, op text,
                             writer boolean, changed text[]);
CREATE FUNCTION loop_log_write() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ch text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        ch := ARRAY['*'];
    ELSE
        SELECT array_agg(n.key ORDER BY n.key) INTO ch
        FROM jsonb_each(to_jsonb(NEW)) n JOIN jsonb_each(to_jsonb(OLD)) o USING (key)
        WHERE n.value IS DISTINCT FROM o.value AND n.key NOT IN ('sync_metadata', 'extra');
    END IF;
    INSERT INTO loop_pg_writes (contact_id, op, writer, changed)
    VALUES (NEW.contact_id, TG_OP,
            coalesce(current_setting('syncrelay.writer', true), '') = 'on', coalesce(ch, '{}'));
    RETURN NULL;
END $$;
CREATE TRIGGER loop_log_write AFTER INSERT OR UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION loop_log_write();
SQL
}

# loop_sqlite_triggers: logs every write of the sink; data = 1 when a
# contact column (not extra, not sync_metadata) changed.
loop_sqlite_triggers() {
    local cols c cond=""
    cols=$(sqlite3 "$LITE_DB" "SELECT name FROM pragma_table_info('contacts')
                               WHERE name NOT IN ('extra', 'sync_metadata')")
    for c in $cols; do cond="$cond${cond:+ OR }OLD.\"$c\" IS NOT NEW.\"$c\""; done
    sqlite3 "$LITE_DB" <<SQL
CREATE TABLE loop_lite_writes (id INTEGER PRIMARY KEY, contact_id TEXT, op TEXT, data INTEGER);
CREATE TRIGGER loop_lite_ins AFTER INSERT ON contacts BEGIN
    INSERT INTO loop_lite_writes (contact_id, op, data) VALUES (NEW.contact_id, 'INSERT', 1);
END;
CREATE TRIGGER loop_lite_upd AFTER UPDATE ON contacts BEGIN
    INSERT INTO loop_lite_writes (contact_id, op, data)
    VALUES (NEW.contact_id, 'UPDATE', CASE WHEN $cond THEN 1 ELSE 0 END);
END;
SQL
}

# loop_start_bigquery: the fake with a fresh service-account key.
loop_start_bigquery() {
    local keydir=$TEST_TMP/bqkey
    mkdir -p "$keydir"
    BQ_PORT=$(free_port)
    BQ_PROJECT=loop-project
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keydir/key.pem" 2>/dev/null
    openssl pkey -in "$keydir/key.pem" -pubout -out "$keydir/pub.pem"
    KEY_PEM=$keydir/key.pem PORT=$BQ_PORT $LOOP_PY -c '
import json, os
print(json.dumps({"type": "service_account", "private_key_id": "kid-loop",
  "private_key": open(os.environ["KEY_PEM"]).read(),
  "client_email": "relay@loop-project.iam.gserviceaccount.com",
  "token_uri": "http://127.0.0.1:%s/token" % os.environ["PORT"]}))' >"$keydir/sa.json"
    BQ_CREDENTIALS=$keydir/sa.json
    $LOOP_PY "$REPO_DIR/tests/fakes/fake_bigquery.py" "$BQ_PORT" \
        --schema "$REPO_DIR/deploy/bigquery/contacts_changes.schema.json" \
        --pubkey "$keydir/pub.pem" --kid kid-loop \
        --client-email relay@loop-project.iam.gserviceaccount.com \
        >"$TEST_TMP/fake_bq.out" 2>"$TEST_TMP/fake_bq.err" &
    LIB_PIDS+=("$!")
    wait_for grep -q "^PORT $BQ_PORT" "$TEST_TMP/fake_bq.out"
    BQ_URL=http://127.0.0.1:$BQ_PORT
}

# loop_extra_yaml: the sections twenty_lib.sh's config lacks.
loop_extra_yaml() {
    cat <<YAML
postgres:
  url: "$PG_URL"
  workers: 1
bigquery:
  project: $BQ_PROJECT
  dataset: crm
  endpoint: "$BQ_URL"
  credentials: "$BQ_CREDENTIALS"
  workers: 1
  timeout_ms: 3000
YAML
}

# loop_start_forwarder: polls the recorder; FWD_PAUSE holds it back.
loop_start_forwarder() {
    FWD_LOG=$TEST_TMP/forwarded.jsonl
    FWD_PAUSE=$TEST_TMP/forward.pause
    : >"$FWD_LOG"
    $LOOP_PY "$LOOP_DIR_PY/loop_forward.py" "$PG_URL" \
        "http://127.0.0.1:$RELAY_PORT/v1/webhooks/supabase" "$SUPABASE_SECRET" \
        "$FWD_LOG" "$FWD_PAUSE" 2>"$TEST_TMP/forwarder.err" &
    LIB_PIDS+=("$!")
}

# supa SQL: runs SQL as a normal (non-syncrelay) session.
supa() { psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -c "$1" >/dev/null; }

# twenty_edit CONTACT_ID JSON: edits the person "as a user" in the fake.
twenty_edit() {
    local id
    id=$(twenty_py "by['$1']['id']")
    twenty_ctl POST "edit/$id" "$2" >/dev/null
}

# twenty_api METHOD PATH: a REST call with the API key (a user's action).
twenty_api() {
    curl -sf -X "$1" -H "Authorization: Bearer $TWENTY_KEY" "$TWENTY_URL/rest/$2" >/dev/null
}

loop_export() {
    export REDIS_PORT PG_URL LITE_DB TWENTY_URL BQ_URL BQ_PROJECT SYNCRELAY_BIN \
        RELAY_FIXTURES FWD_LOG FWD_PAUSE LOOP_A LOOP_B LOOP_A_CREATED
}

# loop_quiet: until the relay is quiet (loop_check.py quiet).
loop_quiet() {
    loop_export
    $LOOP_PY "$LOOP_DIR_PY/loop_check.py" quiet
}

# loop_step NAME: snapshot after the step, judge it against the previous
# snapshot; a failure is counted (LOOP_FAILED) and the test goes on.
LOOP_FAILED=()
LOOP_PREV=""
loop_step() {
    local snap=$TEST_TMP/snap-$1.json
    loop_export
    if ! loop_quiet; then
        LOOP_FAILED+=("$1: never quiet")
    fi
    $LOOP_PY "$LOOP_DIR_PY/loop_check.py" snap "$snap" || fail "snapshot after step $1"
    if [ -n "$LOOP_PREV" ]; then
        if ! $LOOP_PY "$LOOP_DIR_PY/loop_check.py" check "$1" "$LOOP_PREV" "$snap"; then
            LOOP_FAILED+=("$1")
        fi
    fi
    LOOP_PREV=$snap
}
