#!/usr/bin/env bash
# Chaos in CI (issue 9): the fake BigQuery answers 503 to every insertAll for 6 s:
# the BigQuery workers retry, every accepted event is inserted once.
# A short run of tests/chaos/chaos.sh bq (about 20-30 s): a bounded
# webhook load on loopback, the fault mid-stream, then every accepted event
# id is compared with every sink (Postgres, SQLite, fake BigQuery, dead
# letters); fails when an accepted event is lost or dead-lettered.
set -euo pipefail
export RATE=${RATE:-150} DURATION=${DURATION:-10} DRAIN_S=${DRAIN_S:-40}
exec bash "$(dirname "$0")/../chaos/chaos.sh" bq
