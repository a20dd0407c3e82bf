#!/bin/sh
# SPDX-License-Identifier: AGPL-3.0-or-later
# replay.sh - run every fuzz target once over its regression inputs
# (fuzz/regressions/<target>/) and its seed corpus, without fuzzing.
#
# Usage: fuzz/replay.sh [TARGET...]        (default: every target)
# Environment: OUT (binaries, default build/fuzz), CORPUS_DIR (seed corpora,
# default $OUT/corpus; a missing directory is skipped).
#
# Each regression file runs in its own process so that every failing one is
# listed; the exit status is non-zero if any input crashes, leaks or times out.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
OUT=${OUT:-build/fuzz}
CORPUS_DIR=${CORPUS_DIR:-$OUT/corpus}
TARGETS=${*:-fuzz_codec fuzz_msg fuzz_actor fuzz_registry}
OPTS="-timeout=10 -rss_limit_mb=2048"
LOGDIR=$OUT/replay-logs
mkdir -p "$LOGDIR"

failed=0
for t in $TARGETS; do
    bin=$OUT/$t
    if [ ! -x "$bin" ]; then
        echo "replay: $bin is not built (run fuzz/build.sh)" >&2
        failed=1
        continue
    fi
    n=0
    bad=0
    if [ -d "fuzz/regressions/$t" ]; then
        for f in "fuzz/regressions/$t"/*; do
            [ -f "$f" ] || continue
            case "$(basename "$f")" in README*|*.md|.gitkeep) continue ;; esac
            n=$((n + 1))
            log="$LOGDIR/$t-$(basename "$f").log"
            # shellcheck disable=SC2086
            if ! "$bin" $OPTS "$f" >"$log" 2>&1; then
                echo "replay: FAIL $t $f (log: $log)"
                grep -a -m1 -E "ERROR:|invariant failed|SUMMARY" "$log" | sed 's/^/    /'
                bad=$((bad + 1))
            fi
        done
    fi
    seeds=""
    if [ -d "$CORPUS_DIR/$t" ]; then
        log="$LOGDIR/$t-corpus.log"
        # shellcheck disable=SC2086
        if "$bin" $OPTS -runs=0 "$CORPUS_DIR/$t" >"$log" 2>&1; then
            seeds=", seed corpus ok"
        else
            echo "replay: FAIL $t seed corpus $CORPUS_DIR/$t (log: $log)"
            grep -a -m1 -E "ERROR:|invariant failed|SUMMARY" "$log" | sed 's/^/    /'
            seeds=", seed corpus FAILED"
            bad=$((bad + 1))
        fi
    fi
    echo "replay: $t: $n regression input(s), $bad failure(s)$seeds"
    [ "$bad" -eq 0 ] || failed=1
done
exit $failed
