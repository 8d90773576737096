#!/usr/bin/env bash
# Chaos in CI (issue 9): PostgreSQL stopped for 6 s (pg_stop) and started again:
# the Postgres workers retry with backoff, nothing is lost or dead-lettered.
# A short run of tests/chaos/chaos.sh pg (about 20-30 s): a bounded
# webhook load on loopback, the fault mid-stream, then every accepted event
# id is compared with every sink (Postgres, SQLite, fake BigQuery, dead
# letters); fails when an accepted event is lost or dead-lettered.
set -euo pipefail
export RATE=${RATE:-150} DURATION=${DURATION:-10} DRAIN_S=${DRAIN_S:-40}
exec bash "$(dirname "$0")/../chaos/chaos.sh" pg
