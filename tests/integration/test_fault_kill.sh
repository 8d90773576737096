#!/usr/bin/env bash
# The relay killed with SIGKILL in the middle of its batches, then started
# again (issue 4): the dead process's in-flight lists go back onto the
# queues once its heartbeats expire, every event lands, and none lands
# twice in effect (the version rule makes a second write a no-op): every
# contact ends at its newest version, whatever was written twice.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deliver_common.sh"
lib_init
start_redis
start_postgres
BATCH_SIZE=50 HEARTBEAT_TTL=2 deliver_setup

# 1,500 contacts x 3 versions, newest pushed first for a third of them.
python3 - "$TEST_TMP/kill.jsonl" <<'PY'
import json, sys
out = open(sys.argv[1], "w")
for i in range(1500):
    vs = [1, 2, 3] if i % 3 else [3, 1, 2]
    for v in vs:
        ver = f"2025-04-0{v}T00:00:00.000000Z"
        f = {"job_title": f"v{v}", "full_name": f"Kill {i}", "updated_at": ver}
        e = {"v": 1, "id": f"{i:012x}{v:04x}", "source": "twenty", "object": "contact",
             "op": "upsert", "contact_id": f"CNT-K{i:05d}", "record_id": f"k{i}", "version": ver,
             "received_at": ver, "fields": f, "changed": sorted(f), "attempts": 0}
        out.write(json.dumps(e) + "\n")
PY
push_events "$TEST_TMP/kill.jsonl" postgres sqlite
start_workers
# Kill once some, not all, of the work is done.
for _ in $(seq 1 300); do
    n=$(psql_q "SELECT count(*) FROM contacts")
    [ "$n" -gt 0 ] && break
    sleep 0.01
done
kill -KILL "$WORKERS_PID"
wait "$WORKERS_PID" 2>/dev/null || true
left=$(pending)
[ "$left" -gt 0 ] || fail "the kill came too late: nothing was left to recover"
inflight=$(for k in $(rcli --scan --pattern 't:inflight:*'); do rcli LLEN "$k"; done | awk '{s += $1} END {print s + 0}')
echo "killed with $left pending, ${inflight:-0} in flight"

start_workers
wait_drained 60
for db in pg lite; do
    if [ $db = pg ]; then q=psql_q; else q="sqlite3 $LITE_DB"; fi
    assert_eq 1500 "$($q "SELECT count(*) FROM contacts WHERE job_title = 'v3'")" "$db: newest version everywhere"
    assert_eq 1500 "$($q "SELECT count(*) FROM contacts")" "$db: one row per contact"
done
assert_eq 1500 "$(psql_q "SELECT count(*) FROM contacts WHERE sync_metadata->'versions'->>'job_title' = '2025-04-03T00:00:00.000000Z'")" \
    "postgres: versions"
assert_eq 0 "$(rcli LLEN t:dead:postgres)" "postgres dead letters"
assert_eq 0 "$(rcli LLEN t:dead:sqlite)" "sqlite dead letters"
stop_workers
echo "test_fault_kill: ok"
