#!/bin/sh
# SPDX-License-Identifier: AGPL-3.0-or-later
# smoke.sh - build the fuzz targets, generate their seed corpora, fuzz each
# one for a while, then replay the regressions.
#
# Usage: fuzz/smoke.sh [SECONDS] [TARGET...]
#   SECONDS  time per target (default 30); TARGETs default to all four.
#
# Runs one target at a time, one process each (so at most one core busy for
# fuzzing), with -max_total_time=SECONDS -timeout=10 -rss_limit_mb=2048 and
# the target's dictionary.  New corpus entries go to build/fuzz/work/<target>
# (the generated seeds in build/fuzz/corpus/<target> are only read), crash
# inputs to build/fuzz/artifacts/<target>/.  Prints exec/s and coverage per
# target and exits non-zero on any crash, leak, timeout or out-of-memory.
#
# Environment: CC, CFLAGS, LIB_FUZZING_ENGINE (see build.sh), OUT (default
# build/fuzz), PYTHON (default /usr/bin/python3, else python3),
# VECTORS (trace directory for gen-corpus.py), FUZZ_ARGS (extra libFuzzer flags),
# ASAN_OPTIONS (default quarantine_size_mb=32).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

secs=${1:-30}
case "$secs" in
    '' | *[!0-9]*) echo "usage: fuzz/smoke.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
TARGETS=${*:-fuzz_codec fuzz_msg fuzz_actor fuzz_registry}
OUT=${OUT:-build/fuzz}
export OUT
if [ -z "${PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

echo "smoke: building $TARGETS"
mkdir -p "$OUT"
# shellcheck disable=SC2086
FUZZ_TARGETS="$TARGETS" sh fuzz/build.sh >"$OUT/build.log" 2>&1 || {
    cat "$OUT/build.log" >&2
    echo "smoke: build failed" >&2
    exit 1
}

corpus=$OUT/corpus
# Only this run's targets: a run for other targets may share $OUT.
for t in $TARGETS; do rm -rf "${corpus:?}/$t"; done
set --
if [ -n "${VECTORS:-}" ]; then set -- --vectors "$VECTORS"; fi
targets_csv=$(printf "%s" "$TARGETS" | tr ' ' ',')
if ! "$PYTHON" fuzz/gen-corpus.py "$corpus" --targets "$targets_csv" "$@"; then
    echo "smoke: gen-corpus.py failed" >&2
    exit 1
fi

# A smaller quarantine than ASan's 256 MiB nearly doubles fuzz_actor's speed
# (fewer page faults); use-after-free within one input is still caught.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=32}
export ASAN_OPTIONS

status=0
summary=""
for t in $TARGETS; do
    work=$OUT/work/$t
    art=$OUT/artifacts/$t
    log=$OUT/$t.smoke.log
    mkdir -p "$work" "$art" "$corpus/$t"
    dict=""
    [ -f "$OUT/$t.dict" ] && dict="-dict=$OUT/$t.dict"
    echo "smoke: fuzzing $t for ${secs}s (log: $log)"
    # shellcheck disable=SC2086
    "$OUT/$t" $dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_ARGS:-} \
        "$work" "$corpus/$t" >"$log" 2>&1
    rc=$?
    last=$(grep -a -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    execs=$(grep -a '^stat::average_exec_per_sec:' "$log" | tail -n 1 | sed 's/.*: *//')
    runs=$(grep -a '^stat::number_of_executed_units:' "$log" | tail -n 1 | sed 's/.*: *//')
    if [ "$rc" -ne 0 ]; then
        status=1
        what=$(grep -a -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|invariant failed|runtime error' "$log")
        echo "smoke: $t FAILED (exit $rc): $what"
        grep -a -E 'Test unit written to|artifact_prefix' "$log" | sed 's/^/    /'
        res=FAIL
    else
        res=ok
    fi
    summary="$summary$(printf '%-14s %-4s exec/s %-8s runs %-10s cov %-6s ft %s' "$t" "$res" "${execs:-?}" "${runs:-?}" "${cov:-?}" "${ft:-?}")
"
done

echo "smoke: replaying regressions and seed corpora"
# shellcheck disable=SC2086
if ! CORPUS_DIR=$corpus sh fuzz/replay.sh $TARGETS; then
    status=1
fi

echo
echo "smoke: summary (${secs}s per target)"
printf '%s' "$summary"
[ "$status" -eq 0 ] && echo "smoke: all ok" || echo "smoke: FAILED"
exit $status
