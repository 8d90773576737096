#!/usr/bin/env bash
# Chaos in CI (issue 9): SIGKILL of the relay (receiver + workers) mid-stream, then a restart:
# in-flight batches come back after the heartbeat TTL, nothing is lost.
# Also proves the check can fail (CHAOS_SELFTEST: rows deleted, a dead
# letter, BigQuery reset must be counted as lost/dead).
# A short run of tests/chaos/chaos.sh kill (about 20-30 s): a bounded
# webhook load on loopback, the fault mid-stream, then every accepted event
# id is compared with every sink (Postgres, SQLite, fake BigQuery, dead
# letters); fails when an accepted event is lost or dead-lettered.
set -euo pipefail
export RATE=${RATE:-150} DURATION=${DURATION:-10} DRAIN_S=${DRAIN_S:-40} CHAOS_SELFTEST=1
exec bash "$(dirname "$0")/../chaos/chaos.sh" kill
