#!/usr/bin/env bash
# Postgres down for 20 s under a stream of events (issue 4): the Postgres
# workers fail their batches transiently, events wait in P:retry:postgres
# with backoff, and once Postgres is back every event lands and none is
# dead-lettered (the outage is shorter than the retry horizon). SQLite
# keeps delivering meanwhile.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deliver_common.sh"
lib_init
start_redis
start_postgres
# Horizon: 0.2+0.4+0.8+1.6+2*36 s, far above the 20 s outage.
RETRY_BASE_MS=100 RETRY_CAP_MS=2000 RETRY_MAX=40 deliver_setup

python3 - "$TEST_TMP" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
out = open(sys.argv[1] + "/stream.jsonl", "w")
for i in range(600):
    f = {"full_name": f"Stream {i}", "company": "Outage Ltd", "updated_at": "2025-03-01T00:00:00.000000Z"}
    e = {"v": 1, "id": f"{i:016x}", "source": "twenty", "object": "contact", "op": "upsert",
         "contact_id": f"CNT-S{i:05d}", "record_id": f"r{i}", "version": "2025-03-01T00:00:00.000000Z",
         "received_at": "2025-03-01T00:00:00.000000Z", "fields": f, "changed": sorted(f), "attempts": 0}
    out.write(json.dumps(e) + "\n")
PY
split -l 20 -d -a 3 "$TEST_TMP/stream.jsonl" "$TEST_TMP/chunk."
chunks=("$TEST_TMP"/chunk.*)

start_workers
# 30 chunks, one every 0.8 s (24 s): Postgres goes away at chunk 3 and
# comes back after 20 s, while the stream goes on.
stopped_at=0
for i in "${!chunks[@]}"; do
    push_events "${chunks[$i]}" postgres sqlite
    if [ "$i" = 3 ]; then
        pg_stop
        stopped_at=$SECONDS
    fi
    if [ "$stopped_at" -gt 0 ] && [ $((SECONDS - stopped_at)) -ge 20 ]; then
        pg_start
        stopped_at=-1
    fi
    sleep 0.8
done
if [ "$stopped_at" -gt 0 ]; then
    sleep $((20 - (SECONDS - stopped_at)))
    pg_start
fi
[ "$(rcli ZCARD t:retry:postgres)" -gt 0 ] || [ "$(rcli HGET t:stats retried:postgres)" -gt 0 ] ||
    fail "the outage caused no retry: the test did not test anything"
wait_drained 60
assert_eq 600 "$(psql_q "SELECT count(*) FROM contacts WHERE company = 'Outage Ltd'")" "postgres rows"
assert_eq 600 "$(sqlite3 "$LITE_DB" "SELECT count(*) FROM contacts WHERE company = 'Outage Ltd'")" "sqlite rows"
assert_eq 0 "$(rcli LLEN t:dead:postgres)" "postgres dead letters"
assert_eq 0 "$(rcli LLEN t:dead:sqlite)" "sqlite dead letters"
stop_workers
echo "test_fault_pg: ok"
