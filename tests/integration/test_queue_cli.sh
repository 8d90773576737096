#!/usr/bin/env bash
# `syncrelay status`, `dead` and `replay` against a private redis-server:
# every number they print equals what redis-cli shows for the key layout of
# shared/spec/queue.md; filters, --dry-run, history; usage errors exit 2,
# an unreachable Redis exits 1.
set -u
. "$(dirname "$0")/../lib.sh"
lib_init
[ -x "${SYNCRELAY_BIN:-}" ] || fail "SYNCRELAY_BIN not set or not executable"
start_redis || fail "redis-server did not start"
export SYNCRELAY_REDIS_URL="$REDIS_URL" SYNCRELAY_REDIS_PREFIX="qc"
cd "$TEST_TMP"
R() { redis-cli -p "$REDIS_PORT" "$@"; }
S() { "$SYNCRELAY_BIN" "$@"; }

# envelope ID SOURCE CONTACT CODE [ATTEMPTS]
envelope() {
    printf '{"v":1,"id":"%s","source":"%s","object":"contact","op":"upsert","contact_id":"%s","version":"2025-09-14T10:20:31.377000Z","received_at":"2025-09-14T10:20:31.702113Z","fields":{"job_title":"x"},"changed":["job_title"],"attempts":%s,"first_error_at":"2025-09-14T11:00:00.000000Z","error":{"class":"permanent","code":"%s","message":"bad"}}' \
        "$1" "$2" "$3" "${5:-3}" "$4"
}

R LPUSH qc:dead:postgres "$(envelope 00000000000000a1 twenty C1 http_400)" >/dev/null
R LPUSH qc:dead:postgres "$(envelope 00000000000000a2 twenty C2 http_500)" >/dev/null
R LPUSH qc:dead:postgres "$(envelope 00000000000000a3 twenty C3 http_400)" >/dev/null
R LPUSH qc:dead:twenty "$(envelope 00000000000000b1 supabase C1 http_400)" >/dev/null
R LPUSH qc:q:postgres "$(envelope 00000000000000c1 twenty C9 none 0)" >/dev/null
R LPUSH qc:q:postgres "$(envelope 00000000000000c2 twenty C8 none 0)" >/dev/null
R LPUSH qc:inflight:postgres:host:12:0 e1 e2 >/dev/null
R LPUSH qc:inflight:sqlite:host:12:1 e3 >/dev/null
R ZADD qc:retry:bigquery 5 r1 >/dev/null
R HSET qc:stats accepted 7 duplicate 2 'delivered:postgres' 4 >/dev/null

# status --json equals redis-cli.
json=$(S status --json) || fail "status --json exited $?"
get() { printf '%s' "$json" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
for s in postgres sqlite bigquery twenty; do
    assert_eq "$(R LLEN qc:q:$s)" "$(get "d['sinks']['$s']['queued']")" "$s queued"
    assert_eq "$(R ZCARD qc:retry:$s)" "$(get "d['sinks']['$s']['retrying']")" "$s retrying"
    assert_eq "$(R LLEN qc:dead:$s)" "$(get "d['sinks']['$s']['dead']")" "$s dead"
done
assert_eq 2 "$(get "d['sinks']['postgres']['in_flight']")" "postgres in flight"
assert_eq 1 "$(get "d['sinks']['sqlite']['in_flight']")" "sqlite in flight"
age=$(get "d['sinks']['postgres']['oldest_queued_ms']")
[ "$age" -gt 1000000 ] || fail "oldest age too small: $age"
assert_eq "$(R HGET qc:stats accepted)" "$(get "d['stats']['accepted']")" "accepted"
assert_eq 4 "$(get "d['stats']['delivered:postgres']")" "delivered:postgres"
S status >status.txt || fail "status exited $?"
grep -Eq '^postgres +2 +2 +0 +3 ' status.txt || fail "status text: $(cat status.txt)"
grep -Eq '^  accepted +7$' status.txt || fail "status counters: $(cat status.txt)"

# dead ls / show.
assert_eq "$(R LLEN qc:dead:postgres)" "$(S dead ls --sink postgres | wc -l)" "dead ls --sink"
assert_eq 3 "$(S dead ls --error http_400 | wc -l)" "dead ls --error"
assert_eq 2 "$(S dead ls --contact C1 | wc -l)" "dead ls --contact"
assert_eq 1 "$(S dead ls --source supabase | wc -l)" "dead ls --source"
S dead ls --sink twenty | grep -q $'^twenty\t00000000000000b1\tsupabase\tC1\t3\thttp_400\t' ||
    fail "dead ls line: $(S dead ls --sink twenty)"
assert_eq "$(R LINDEX qc:dead:postgres 1)" "$(S dead show 00000000000000a2)" "dead show"
S dead show 0000000000000fff >/dev/null 2>&1
assert_eq 1 $? "dead show of a missing id"

# replay: dry run moves nothing; then the http_400 letters of postgres move.
assert_eq "would replay 3 dead letter(s)" "$(S replay --error http_400 --dry-run)" "dry run"
assert_eq 3 "$(R LLEN qc:dead:postgres)" "dead after dry run"
assert_eq "replayed 2 dead letter(s)" "$(S replay --sink postgres --error http_400)" "replay"
assert_eq 1 "$(R LLEN qc:dead:postgres)" "dead after replay"
assert_eq 4 "$(R LLEN qc:q:postgres)" "queued after replay"
assert_eq 2 "$(R HGET qc:stats replayed:postgres)" "replayed counter"
R LRANGE qc:q:postgres 0 -1 | python3 -c '
import json, sys
evs = [json.loads(l) for l in sys.stdin if l.strip()]
rep = [e for e in evs if e["id"] in ("00000000000000a1", "00000000000000a3")]
assert len(rep) == 2, evs
for e in rep:
    assert e["attempts"] == 0 and "error" not in e and "first_error_at" not in e, e
    assert e["history"][-1]["code"] == "http_400" and e["history"][-1]["attempts"] == 3, e
' || fail "replayed envelopes"

# purge: needs a filter or --all.
S dead purge >/dev/null 2>&1
assert_eq 2 $? "purge without filter"
assert_eq "would purge 2 dead letter(s)" "$(S dead purge --dry-run)" "purge dry run"
assert_eq "purged 1 dead letter(s)" "$(S dead purge --sink twenty)" "purge twenty"
assert_eq 0 "$(R EXISTS qc:dead:twenty)" "twenty dead gone"
assert_eq "purged 1 dead letter(s)" "$(S dead purge --all)" "purge all"

# Usage errors exit 2; an unreachable Redis exits 1.
for args in "status --bogus" "dead" "dead frob" "dead ls --sink nosuch" "dead ls --since" \
    "replay --source nosuch" "replay --all" "dead show"; do
    # shellcheck disable=SC2086
    S $args >/dev/null 2>&1
    assert_eq 2 $? "exit of: $args"
done
port=$(free_port)
for args in "status" "dead ls" "replay --dry-run"; do
    # shellcheck disable=SC2086
    out=$(SYNCRELAY_REDIS_URL="redis://127.0.0.1:$port" SYNCRELAY_REDIS_TIMEOUT_MS=300 S $args 2>&1)
    assert_eq 1 $? "exit of $args with Redis down"
    case "$out" in *"redis unreachable"*) ;; *) fail "message of $args: $out" ;; esac
done
echo "test_queue_cli: ok"
