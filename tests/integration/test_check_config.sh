#!/usr/bin/env bash
# `syncrelay check-config`: prints the effective config with secrets masked
# and exits 0; environment overrides and *_FILE secrets show up; a config
# error exits 2 with the exact "file:line: key: reason" line (app.c prints
# it). Needs no servers: check-config only loads and validates.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lib_init
: "${SYNCRELAY_BIN:?set SYNCRELAY_BIN to the syncrelay binary}"

# Nothing from the caller's environment may leak into the expectations.
for v in $(env | sed -n 's/^\(SYNCRELAY_[A-Z0-9_]*\)=.*/\1/p'); do
    [ "$v" = SYNCRELAY_BIN ] || unset "$v"
done
unset GOOGLE_APPLICATION_CREDENTIALS
cd "$TEST_TMP"

# run ARGS...: runs syncrelay, sets OUT, ERR and STATUS.
run() {
    STATUS=0
    "$SYNCRELAY_BIN" "$@" >out.txt 2>err.txt || STATUS=$?
    OUT=$(cat out.txt)
    ERR=$(cat err.txt)
}

has_line() { # has_line LINE TEXT WHAT
    grep -qxF -- "$1" <<<"$2" || fail "$3: no line [$1] in:
$2"
}

# 1. No file: the built-in defaults, exit 0.
run check-config
assert_eq 0 "$STATUS" "defaults exit status"
has_line '# syncrelay effective config (built-in defaults, no file); secrets shown as "***"' \
    "$OUT" "header"
has_line '  listen: "127.0.0.1:8080"' "$OUT" "default listen"
has_line '  url: "redis://127.0.0.1:6379"' "$OUT" "default redis url"
has_line '  path: "./syncrelay.db"' "$OUT" "default sqlite path"
has_line '  secret: ""' "$OUT" "empty secret stays visible"

# 2. A file, environment overrides and secrets, all masked on output.
printf 'pg-password-from-file\n' >pg.secret
cat >relay.yaml <<'EOF'
http:
  listen: "127.0.0.1:9999"
  threads: 3
twenty:
  secret: tw-secret-in-file
redis:
  url: "redis://:redis-secret@127.0.0.1:6390/1"
EOF
SYNCRELAY_HTTP_THREADS=5 SYNCRELAY_SUPABASE_SECRET=sb-secret-in-env \
    SYNCRELAY_BIGQUERY_TOKEN_FILE=pg.secret \
    SYNCRELAY_POSTGRES_URL='postgresql://app:pg-secret@127.0.0.1:5432/db' \
    run --config relay.yaml check-config
assert_eq 0 "$STATUS" "file+env exit status"
has_line '  listen: "127.0.0.1:9999"' "$OUT" "listen from file"
has_line '  threads: 5' "$OUT" "threads from env beats file"
has_line '  url: "redis://:***@127.0.0.1:6390/1"' "$OUT" "redis password masked"
has_line '  url: "postgresql://app:***@127.0.0.1:5432/db"' "$OUT" "postgres password masked"
has_line '  token: "***"' "$OUT" "token from file masked"
[ "$(grep -c '^  secret: "\*\*\*"$' <<<"$OUT")" = 2 ] || fail "twenty and supabase secrets masked: $OUT"
if grep -q 'secret-in\|redis-secret\|pg-secret\|pg-password' <<<"$OUT$ERR"; then
    fail "a secret was printed: $OUT $ERR"
fi

# The printed config is itself a valid config that prints the same.
sed 1d out.txt >printed.yaml
SYNCRELAY_HTTP_THREADS=5 run --config printed.yaml check-config
assert_eq 0 "$STATUS" "printed config loads again"

# SYNCRELAY_CONFIG names the file too.
SYNCRELAY_CONFIG=relay.yaml run check-config
assert_eq 0 "$STATUS" "SYNCRELAY_CONFIG exit status"
has_line '  threads: 3' "$OUT" "threads from SYNCRELAY_CONFIG file"

# 3. Errors exit 2 with exactly one file:line: key: reason line.
cat >bad.yaml <<'EOF'
# an operator's typo
redis:
  url: "redis://127.0.0.1:6379"
  colour: blue
EOF
run --config bad.yaml check-config
assert_eq 2 "$STATUS" "unknown key exit status"
assert_eq "bad.yaml:4: redis.colour: unknown key" "$ERR" "unknown key message"
assert_eq "" "$OUT" "nothing printed on error"

printf 'http:\n  listen: "127.0.0.1:8080"\n  threads: 0\n' >range.yaml
run --config range.yaml check-config
assert_eq 2 "$STATUS" "range exit status"
assert_eq "range.yaml:3: http.threads: must be between 1 and 1024" "$ERR" "range message"

SYNCRELAY_HTTP_THREADS=many run check-config
assert_eq 2 "$STATUS" "bad env exit status"
assert_eq "env SYNCRELAY_HTTP_THREADS: must be a number" "$ERR" "bad env message"

SYNCRELAY_TWENTY_SECRET_FILE=missing.secret run check-config
assert_eq 2 "$STATUS" "missing secret file exit status"
assert_eq "env SYNCRELAY_TWENTY_SECRET_FILE: missing.secret: No such file or directory" "$ERR" \
    "missing secret file message"

run --config nope.yaml check-config
assert_eq 2 "$STATUS" "missing config exit status"
assert_eq "nope.yaml: No such file or directory" "$ERR" "missing config message"

run check-config extra-arg
assert_eq 2 "$STATUS" "extra argument exit status"

# 4. The shipped example is valid and equals the defaults.
run --config "$REPO_DIR/deploy/syncrelay.example.yaml" check-config
assert_eq 0 "$STATUS" "example exit status"
EXAMPLE=$(sed 1d out.txt)
run check-config
assert_eq "$(sed 1d out.txt)" "$EXAMPLE" "example equals defaults"

# Every command prints its usage on stdout for --help and -h and exits 0
# (needs no server); an unknown argument is a usage error on stderr, exit 2.
for cmd in check-config transform serve migrate push verify status dead replay; do
    for flag in --help -h; do
        run "$cmd" "$flag"
        assert_eq 0 "$STATUS" "$cmd $flag exit status"
        grep -q "^usage: syncrelay" out.txt || fail "$cmd $flag: no usage on stdout: $OUT"
    done
    run "$cmd" --no-such-option
    assert_eq 2 "$STATUS" "$cmd --no-such-option exit status"
    grep -q "usage" err.txt || fail "$cmd --no-such-option: no usage on stderr: $ERR"
done

echo "ok: check-config scenario"
