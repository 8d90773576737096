#!/usr/bin/env bash
# Drain benchmark (issue 4): preloads N events (fresh contacts, a Twenty
# create's worth of fields each) into P:q:postgres and P:q:sqlite, starts
# `syncrelay serve --role workers`, and times until every row is in both
# databases. Prints one line: events/s into Postgres and SQLite together
# (2 x N events over the wall time), plus each sink's own finish time,
# and a second line: the CPU time the relay, Postgres and Redis spent on
# the drain (per event; comparable across runs on a busy machine) and the
# load average before and after.
# Usage: tests/bench/drain.sh [N]   (SYNCRELAY_BIN, BATCH_SIZE, PG_WORKERS)
set -euo pipefail
N=${1:-100000}
. "$(dirname "$0")/../lib.sh"
BIN=${SYNCRELAY_BIN:-$REPO_DIR/build/syncrelay}
lib_init
start_redis
start_postgres
LITE_DB="$TEST_TMP/bench.db"
CONF="$TEST_TMP/bench.yaml"
cat >"$CONF" <<EOC
redis: {url: "$REDIS_URL", prefix: "b"}
postgres: {url: "$PG_URL", workers: ${PG_WORKERS:-2}}
sqlite: {path: "$LITE_DB"}
workers: {batch_size: ${BATCH_SIZE:-500}, heartbeat_ttl_s: 15, grace_ms: 5000}
log: {level: warn}
EOC
"$BIN" --config "$CONF" migrate >/dev/null

python3 - "$N" <<'PY' >"$TEST_TMP/load.resp"
import json, sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def cmd(*parts):
    out.write(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
for i in range(n):
    ver = "2025-05-01T12:00:00.%06dZ" % (i % 1000000)
    f = {"twenty_id": "00000000-0000-4000-8000-%012d" % i, "first_name": "Bench",
         "last_name": "Contact %d" % i, "job_title": "Engineer", "company": "Drain Ltd",
         "created_at": ver, "updated_at": ver, "deleted_at": None,
         "emails": ["bench%d@example.org" % i], "phones": ["+4477009%05d" % (i % 100000)],
         "tags": ["bench", "drain"], "relationship_strength": 0.5}
    e = {"v": 1, "id": "%016x" % i, "source": "twenty", "object": "contact", "op": "upsert",
         "contact_id": "CNT-B%07d" % i, "record_id": "b%d" % i, "version": ver,
         "received_at": ver, "fields": f, "changed": sorted(f),
         "extra": {"twenty": {"city": "London", "position": i}}, "attempts": 0}
    raw = json.dumps(e, separators=(",", ":")).encode()
    cmd(b"LPUSH", b"b:q:postgres", raw)
    cmd(b"LPUSH", b"b:q:sqlite", raw)
PY
redis-cli -p "$REDIS_PORT" --pipe <"$TEST_TMP/load.resp" >/dev/null
echo "preloaded $N events per sink ($(du -h "$TEST_TMP/load.resp" | cut -f1) of RESP)" >&2

now_ms() { date +%s%3N; }
# CPU time (user + system, ms) of a process and its children so far; the
# figure that does not depend on how busy the machine is.
TICK=$(getconf CLK_TCK)
cpu_ms() { awk -v t="$TICK" '{ s += $14 + $15 } END { printf "%d", s * 1000 / t }' "$@" 2>/dev/null || echo 0; }
pg_cpu_ms() {
    local pm
    pm=$(head -1 "$PG_DATA/postmaster.pid")
    cpu_ms "/proc/$pm/stat" $(pgrep -P "$pm" | sed 's|.*|/proc/&/stat|')
}
redis0=$(cpu_ms "/proc/$REDIS_PID/stat")
pg0=$(pg_cpu_ms)
load0=$(cut -d' ' -f1 /proc/loadavg)
start=$(now_ms)
"$BIN" --config "$CONF" serve --role workers 2>"$TEST_TMP/workers.log" &
WPID=$!
LIB_PIDS+=("$WPID")
pg_done=0 lite_done=0
while [ "$pg_done" = 0 ] || [ "$lite_done" = 0 ]; do
    sleep 0.2
    if [ "$pg_done" = 0 ] && [ "$(psql_q "SELECT count(*) FROM contacts")" = "$N" ]; then
        pg_done=$(($(now_ms) - start))
    fi
    if [ "$lite_done" = 0 ] &&
        [ "$(sqlite3 "$LITE_DB" "PRAGMA busy_timeout=2000; SELECT count(*) FROM contacts" | tail -1)" = "$N" ]; then
        lite_done=$(($(now_ms) - start))
    fi
    if ! kill -0 "$WPID" 2>/dev/null; then
        fail "workers died: $(tail -3 "$TEST_TMP/workers.log")"
    fi
done
total=$((pg_done > lite_done ? pg_done : lite_done))
relay_cpu=$(cpu_ms "/proc/$WPID/stat")
pg_cpu=$(($(pg_cpu_ms) - pg0))
redis_cpu=$(($(cpu_ms "/proc/$REDIS_PID/stat") - redis0))
load1=$(cut -d' ' -f1 /proc/loadavg)
kill -TERM "$WPID"
wait "$WPID" || true
dead=$(( $(redis-cli -p "$REDIS_PORT" LLEN b:dead:postgres) + $(redis-cli -p "$REDIS_PORT" LLEN b:dead:sqlite) ))
echo "drain: $((2 * N)) events in ${total} ms = $((2 * N * 1000 / total)) events/s" \
    "(postgres $((N * 1000 / pg_done))/s in ${pg_done} ms, sqlite $((N * 1000 / lite_done))/s in ${lite_done} ms, dead $dead)"
echo "cpu: relay ${relay_cpu} ms ($((relay_cpu * 1000000 / (2 * N))) ns/event), postgres ${pg_cpu} ms," \
    "redis ${redis_cpu} ms, all $(((relay_cpu + pg_cpu + redis_cpu) * 1000000 / (2 * N))) ns/event;" \
    "load average ${load0} -> ${load1}"
