#!/usr/bin/env bash
# The Twenty sink paces itself under twenty.rate_limit_per_min: with a limit
# of 120/min (bucket of 12, then one token every ~0.56 s), ten new contacts
# (21 requests: two finds each and one batch create) are spread out instead
# of being fired at once, Twenty (enforcing the same limit) never answers
# 429, and every contact is still created exactly once, under the default
# retry.max_attempts: waiting for the bucket is not an attempt.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/twenty_lib.sh"
: "${SYNCRELAY_BIN:?}" "${RELAY_FIXTURES:?}"

lib_init
start_redis
RELAY_PORT=$(free_port)
start_fake_twenty --rate-limit 120
TWENTY_RATE=120 start_relay

for i in $(seq 10 19); do
    body=$(supabase_body INSERT "{\"record\": {\"contact_id\": \"CNT-P$i\", \"id\": \"00000000-0000-4000-8000-0000000000$i\"}}" contacts.insert.json)
    echo "$body" >"$TEST_TMP/p$i.json"
    assert_eq 202 "$(post_supabase "$TEST_TMP/p$i.json")" "insert P$i"
done
for i in $(seq 1 3); do # up to 30 s
    wait_twenty "len(R) == 10" && break
done
assert_eq 10 "$(twenty_py "len(R)")" "every contact created"
assert_eq 0 "$(twenty_py "S['rate_limited']")" "no 429 from Twenty"
# Pacing is not failure: with the default retry.max_attempts (12) nothing
# is dead-lettered, and waiting for the bucket counted no attempt.
assert_eq 0 "$(redis-cli -p "$REDIS_PORT" LLEN syncrelay:dead:twenty)" "nothing dead-lettered"
# In any one second at most the bucket (12) plus two refills were sent.
burst=$(twenty_py "max(sum(1 for m in S['log'] if l['t'] <= m['t'] < l['t'] + 1.0) for l in S['log'])")
[ "$burst" -le 14 ] || fail "requests in one second: $burst > 14 (not paced)"
total=$(twenty_py "len(S['log'])")
[ "$total" -ge 20 ] || fail "expected >= 20 requests, got $total"
echo "pacing ok: $total requests, at most $burst in any second, max/min $(twenty_py "S['max_per_minute']")"
