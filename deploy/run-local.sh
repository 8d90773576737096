#!/usr/bin/env bash
# One command on a fresh Debian machine: installs what is missing, builds
# syncrelay, and maps a shared fixture to every system with `transform`.
# (The daemon itself, `serve`, arrives with the receiver.)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/deploy/packages.sh"
# shellcheck disable=SC2086
install_missing $SYNCRELAY_BUILD_PACKAGES $SYNCRELAY_RUN_PACKAGES
BUILD=${SYNCRELAY_BUILD_DIR:-$REPO/build}
cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j2 --target syncrelay >/dev/null
FIXTURE="$REPO/../shared/fixtures/twenty/person.updated.mapped.json"
for to in canonical postgres sqlite bigquery twenty; do
    echo "== twenty -> $to"
    "$BUILD/syncrelay" transform --from twenty --to "$to" "$FIXTURE"
done
