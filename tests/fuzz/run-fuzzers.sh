#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, RELAY_FUZZ=ON) in their
# own build dir and runs each for SECONDS (default 60), JOBS at a time
# (default 2), on a scratch copy of tests/fuzz/corpus/<target>/ plus
# regress/<target>/, so the tree is never modified.
#
# Usage: tests/fuzz/run-fuzzers.sh [SECONDS [TARGET...]]
# Environment: FUZZ_BUILD_DIR (build-fuzz), JOBS (2), FUZZ_RSS_LIMIT_MB
# (2048), FUZZ_KEEP=1 keeps the scratch dir (grown corpora, logs).
#
# A crash, leak, UB report, timeout or OOM fails the script: the input is
# printed as a hex dump (so a CI log holds the reproducer) and saved under
# $FUZZ_BUILD_DIR/fuzz-crashes/<target>/. Save it as a regression with
#   cp FILE tests/fuzz/regress/<target>/
# and replay it with build/tests/fuzz_<target>_replay FILE.
set -euo pipefail
cd "$(dirname "$0")/../.."

ALL_TARGETS="webhook_twenty webhook_supabase config mapping event bigquery_response twenty_response"
SECS=${1:-60}
shift || true
TARGETS=${*:-$ALL_TARGETS}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}
RSS=${FUZZ_RSS_LIMIT_MB:-2048}
CRASH_DIR=$BUILD/fuzz-crashes

case $SECS in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS [TARGET...]]" >&2
    exit 2
    ;;
esac

echo "fuzz: building $TARGETS in $BUILD (clang, address,undefined)"
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRELAY_FUZZ=ON -DRELAY_TESTING=OFF -DRELAY_WERROR=OFF \
    -DRELAY_SANITIZE=address,undefined >/dev/null
# shellcheck disable=SC2046
cmake --build "$BUILD" -j"$JOBS" --target $(printf 'fuzz_%s ' $TARGETS) >/dev/null

WORK=$(mktemp -d "${TMPDIR:-/tmp}/syncrelay-fuzz.XXXXXX")
cleanup() {
    if [ -z "${FUZZ_KEEP:-}" ]; then
        rm -rf "$WORK"
    else
        echo "fuzz: scratch dir kept: $WORK"
    fi
}
trap cleanup EXIT

# run_one TARGET: fuzzes one target; its exit status is libFuzzer's.
run_one() {
    local t=$1 dir=$WORK/$1
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp -R tests/fuzz/corpus/"$t"/. "$dir/corpus/"
    find tests/fuzz/regress/"$t" -type f ! -name '.*' -exec cp {} "$dir/corpus/" \; 2>/dev/null || true
    local dict=()
    [ -f tests/fuzz/dict/"$t".dict ] && dict=(-dict=tests/fuzz/dict/"$t".dict)
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb="$RSS" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${dict[@]}" "$dir/corpus" \
        >"$dir/log" 2>&1
}

# signature LOG: what identifies a failure: the harness's check (file:line)
# or the sanitizer's summary line.
signature() {
    grep -oE 'FUZZ CHECK FAILED [^ ]+|SUMMARY: [A-Za-z]+Sanitizer: .*' "$1" | head -1 || true
}

# known_open TARGET LOG: true when the failure in LOG is one of the open
# bugs of tests/fuzz/open/TARGET/ (reported, not fixed yet; see README.md),
# which are replayed by CTest and must not fail the fuzz run again.
known_open() {
    local t=$1 sig f
    sig=$(signature "$2")
    [ -n "$sig" ] || return 1
    for f in tests/fuzz/open/"$t"/*; do
        [ -f "$f" ] || continue
        "$BUILD/tests/fuzz/fuzz_$t" "$f" >"$WORK/$t/open.log" 2>&1 || true
        [ "$(signature "$WORK/$t/open.log")" = "$sig" ] && return 0
    done
    return 1
}

# report TARGET STATUS: one summary line; on failure the log tail and the input.
report() {
    local t=$1 status=$2 dir=$WORK/$1
    local cov execs speed
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [^ ]+' "$dir/log" | tail -1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    if [ "$status" -eq 0 ]; then
        printf 'fuzz: %-18s ok   %ss, %s execs, %s exec/s, %s\n' "$t" "$SECS" "${execs:-?}" \
            "${speed:-?}" "$cov"
        return 0
    fi
    if known_open "$t" "$dir/log"; then
        printf 'fuzz: %-18s ok   stopped early at a known open bug (%s; see tests/fuzz/open/%s)\n' \
            "$t" "$(signature "$dir/log")" "$t"
        return 0
    fi
    printf 'fuzz: %-18s FAILED (status %s)\n' "$t" "$status"
    grep -E 'ERROR: |FUZZ CHECK FAILED|runtime error|SUMMARY' "$dir/log" | head -5 | sed 's/^/    /'
    echo "    --- last lines of the log ---"
    tail -40 "$dir/log" | sed 's/^/    /'
    mkdir -p "$CRASH_DIR/$t"
    local f
    for f in "$dir"/artifacts/*; do
        [ -f "$f" ] || continue
        cp "$f" "$CRASH_DIR/$t/"
        echo "    input saved: $CRASH_DIR/$t/$(basename "$f") ($(wc -c <"$f") bytes)"
        echo "    keep it as a regression: cp $CRASH_DIR/$t/$(basename "$f") tests/fuzz/regress/$t/"
        od -A x -t x1z -v "$f" | head -64 | sed 's/^/    /'
    done
    return 1
}

failed=0
passed=0
pending=()
for t in $TARGETS; do
    if [ ! -d tests/fuzz/corpus/"$t" ]; then
        echo "fuzz: no such target: $t" >&2
        exit 2
    fi
    run_one "$t" &
    pending+=("$!:$t")
    if [ ${#pending[@]} -ge "$JOBS" ]; then
        entry=${pending[0]}
        pending=("${pending[@]:1}")
        status=0
        wait "${entry%%:*}" || status=$?
        if report "${entry#*:}" "$status"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    fi
done
for entry in "${pending[@]}"; do
    status=0
    wait "${entry%%:*}" || status=$?
    if report "${entry#*:}" "$status"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done

echo "fuzz: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
    echo "fuzz: crashers in $CRASH_DIR" >&2
    exit 1
fi
