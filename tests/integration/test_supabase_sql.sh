#!/usr/bin/env bash
# The Supabase deployment SQL on a real PostgreSQL: deploy/sql/supabase.sql
# (through `syncrelay migrate`, twice: idempotent), then
# deploy/sql/supabase_webhook.sql against a stand-in for Supabase's
# supabase_functions.http_request that records the trigger's arguments:
#  1. the webhook trigger posts to <relay_url>/v1/webhooks/supabase with the
#     secret in X-Syncrelay-Secret, or in the header named by relay_header;
#  2. an empty relay_secret is refused and leaves no trigger;
#  3. a direct INSERT without contact_id gets its own id as contact_id.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
BIN=${SYNCRELAY_BIN:?}
lib_init
start_postgres
cat >"$TEST_TMP/relay.yaml" <<EOC
postgres: {url: "$PG_URL"}
sqlite: {path: "off"}
EOC
"$BIN" --config "$TEST_TMP/relay.yaml" migrate >/dev/null
"$BIN" --config "$TEST_TMP/relay.yaml" migrate >/dev/null
psql_q "CREATE SCHEMA supabase_functions;
  CREATE TABLE hook_calls (url text, method text, headers jsonb, timeout text);
  CREATE FUNCTION supabase_functions.http_request() RETURNS trigger LANGUAGE plpgsql AS \$\$
  BEGIN
    INSERT INTO hook_calls VALUES (TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]::jsonb, TG_ARGV[4]);
    RETURN NULL;
  END \$\$" >/dev/null

webhook_sql() { # webhook_sql PSQL_ARGS...: runs supabase_webhook.sql
    psql "$PG_URL" -X -q -v relay_url=https://relay.example.com/ "$@" \
        -f "$REPO_DIR/deploy/sql/supabase_webhook.sql" >/dev/null
}

# 1. default header, then a configured one
webhook_sql -v relay_secret=s3cret
psql_q "INSERT INTO contacts (contact_id) VALUES ('C-1')" >/dev/null
assert_eq "https://relay.example.com/v1/webhooks/supabase|POST|s3cret|5000" \
    "$(psql_q "SELECT url, method, headers->>'X-Syncrelay-Secret', timeout FROM hook_calls")" \
    "default webhook"
webhook_sql -v relay_secret=other -v relay_header=X-Custom-Secret
psql_q "TRUNCATE hook_calls; UPDATE contacts SET nickname = 'n' WHERE contact_id = 'C-1'" >/dev/null
assert_eq "other|" "$(psql_q "SELECT headers->>'X-Custom-Secret', headers->>'X-Syncrelay-Secret' FROM hook_calls")" \
    "relay_header names the secret header"

# 2. no secret: refused, and the old trigger is left as it was
if webhook_sql -v relay_secret= 2>"$TEST_TMP/err"; then
    fail "an empty relay_secret was accepted"
fi
grep -q "relay_secret is empty" "$TEST_TMP/err" || fail "unexpected error: $(cat "$TEST_TMP/err")"
assert_eq "1" "$(psql_q "SELECT count(*) FROM pg_trigger WHERE tgname = 'syncrelay_contacts_webhook'")" \
    "the trigger after a refused run"

# 3. contact_id defaults to the row's own id
assert_eq "t" "$(psql_q "INSERT INTO contacts (first_name) VALUES ('No Id') RETURNING contact_id = id::text")" \
    "a direct insert without contact_id gets its id"
echo "supabase sql: ok"
