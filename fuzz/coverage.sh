#!/bin/sh
# SPDX-License-Identifier: AGPL-3.0-or-later
# coverage.sh - which code of the core (ref/src) the fuzz corpora reach, with
# clang's source-based coverage, so that blind spots are visible.
#
# Usage: fuzz/coverage.sh [TARGET...]        (default: every target)
#
# Builds the targets without sanitizers but with -fprofile-instr-generate
# -fcoverage-mapping (libFuzzer only runs the inputs: -runs=0), runs each one
# over its inputs, merges the profiles with llvm-profdata and writes to
# $COV_OUT:
#   summary.txt            llvm-cov report: lines, functions, regions per file
#                          of the core, every target together
#   summary-<target>.txt   the same for one target
#   blind-spots.txt        the core's functions that no input reached
#   html/index.html        llvm-cov show, line by line
#   export.json            llvm-cov export (blind-spots.py reads it)
# Inputs of target t: fuzz/regressions/t, $OUT/corpus/t, $OUT/work/t and,
# for each directory D of CORPUS_DIRS (space-separated), D/t if it exists,
# else D/corpus/t and D/work/t (so an OUT of smoke.sh can be named whole).
# Nothing is written into them.
#
# Environment: OUT (default build/fuzz), COV_OUT (default $OUT/coverage),
# CORPUS_DIRS, CC (default clang), LLVM_PROFDATA, LLVM_COV (default: the
# unversioned tools, else llvm-*-14..19), PYTHON (default /usr/bin/python3),
# SCWIRE_SRC (see build.sh).  Exits non-zero if a target fails to build or
# crashes on an input (its profile is then lost).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

TARGETS=${*:-fuzz_codec fuzz_msg fuzz_actor fuzz_registry}
OUT=${OUT:-build/fuzz}
COV_OUT=${COV_OUT:-$OUT/coverage}
SCWIRE_SRC=${SCWIRE_SRC:-ref/src}
PYTHON=${PYTHON:-/usr/bin/python3}

find_tool() {
    for v in "" -14 -15 -16 -17 -18 -19; do
        if command -v "$1$v" >/dev/null 2>&1; then
            echo "$1$v"
            return 0
        fi
    done
    echo "coverage: $1 not found (tools/install-deps --fuzz installs llvm)" >&2
    return 1
}
LLVM_PROFDATA=${LLVM_PROFDATA:-$(find_tool llvm-profdata)} || exit 2
LLVM_COV=${LLVM_COV:-$(find_tool llvm-cov)} || exit 2

rm -rf "$COV_OUT"
mkdir -p "$COV_OUT/prof" "$COV_OUT/inputs"
bin=$COV_OUT/bin

echo "coverage: building $TARGETS"
# shellcheck disable=SC2086
if ! CC=${CC:-clang} OUT="$bin" CORPUS_DIR="$COV_OUT/none" FUZZ_TARGETS="$TARGETS" SCWIRE_SRC="$SCWIRE_SRC" \
    CFLAGS="-g -O1 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping" \
    sh fuzz/build.sh >"$COV_OUT/build.log" 2>&1; then
    cat "$COV_OUT/build.log" >&2
    echo "coverage: build failed" >&2
    exit 1
fi

# Directories of inputs for target t, one a line.
inputs_of() {
    t=$1
    # The regression directory also holds its README: copy the inputs alone.
    reg=$COV_OUT/inputs/$t
    mkdir -p "$reg"
    for f in fuzz/regressions/"$t"/*; do
        [ -f "$f" ] || continue
        case "$(basename "$f")" in README*|*.md|.gitkeep) continue ;; esac
        cp "$f" "$reg/"
    done
    echo "$reg"
    for d in "$OUT/corpus/$t" "$OUT/work/$t"; do
        [ -d "$d" ] && echo "$d"
    done
    for d in ${CORPUS_DIRS:-}; do
        if [ -d "$d/$t" ]; then
            echo "$d/$t"
        else
            for sub in corpus work; do
                [ -d "$d/$sub/$t" ] && echo "$d/$sub/$t"
            done
        fi
    done
}

status=0
main=""   # llvm-cov takes one binary, then the others as -object
others=""
for t in $TARGETS; do
    dirs=$(inputs_of "$t" | tr '\n' ' ')
    n=0
    for d in $dirs; do n=$((n + $(find "$d" -type f | wc -l))); done
    echo "coverage: $t over $n inputs ($dirs)"
    # shellcheck disable=SC2086
    if ! LLVM_PROFILE_FILE="$COV_OUT/prof/$t.%p.profraw" "$bin/$t" -runs=0 -timeout=10 \
        -rss_limit_mb=2048 $dirs >"$COV_OUT/$t.log" 2>&1; then
        echo "coverage: $t failed on an input (log: $COV_OUT/$t.log)" >&2
        grep -a -m1 -E "ERROR:|invariant failed" "$COV_OUT/$t.log" | sed 's/^/    /' >&2
        status=1
        continue
    fi
    "$LLVM_PROFDATA" merge -sparse -o "$COV_OUT/prof/$t.profdata" "$COV_OUT/prof/$t".*.profraw || {
        status=1
        continue
    }
    "$LLVM_COV" report "$bin/$t" -instr-profile="$COV_OUT/prof/$t.profdata" "$SCWIRE_SRC"/*.c \
        >"$COV_OUT/summary-$t.txt"
    if [ -z "$main" ]; then main=$bin/$t; else others="$others -object $bin/$t"; fi
done
if [ -z "$main" ]; then
    echo "coverage: no profile to report" >&2
    exit 1
fi

# shellcheck disable=SC2086 # file and flag lists
{
    "$LLVM_PROFDATA" merge -sparse -o "$COV_OUT/merged.profdata" "$COV_OUT"/prof/*.profdata &&
        cov="$main $others -instr-profile=$COV_OUT/merged.profdata" &&
        "$LLVM_COV" report $cov "$SCWIRE_SRC"/*.c >"$COV_OUT/summary.txt" &&
        "$LLVM_COV" show $cov -format=html -output-dir="$COV_OUT/html" \
            -show-line-counts-or-regions "$SCWIRE_SRC"/*.c &&
        "$LLVM_COV" export $cov -skip-expansions "$SCWIRE_SRC"/*.c >"$COV_OUT/export.json" &&
        "$PYTHON" fuzz/blind-spots.py "$COV_OUT/export.json" >"$COV_OUT/blind-spots.txt"
} || {
    echo "coverage: the report failed" >&2
    exit 1
}

# Columns of llvm-cov report: file, regions (3), functions (3), lines (3), branches (3).
echo "coverage: $COV_OUT/summary.txt (covered: lines, functions, regions)"
grep -E '^TOTAL|\.c ' "$COV_OUT/summary.txt" |
    awk '{ n = split($1, p, "/"); printf "  %-14s %8s %8s %8s\n", p[n], $10, $7, $4 }'
echo "coverage: $(grep -c . "$COV_OUT/blind-spots.txt") function(s) never reached: $COV_OUT/blind-spots.txt"
echo "coverage: $COV_OUT/html/index.html"
exit $status
