#!/bin/sh
# SPDX-License-Identifier: AGPL-3.0-or-later
# build.sh - build the libFuzzer targets of fuzz/ (OSS-Fuzz / ClusterFuzzLite
# conventions).
#
# Environment (all optional):
#   CC                 compiler (default clang)
#   CFLAGS             compile flags, used for the core sources too
#                      (default: -g -O1 -fsanitize=fuzzer,address,undefined
#                       -fno-sanitize-recover=undefined)
#   CXX, CXXFLAGS      when CXX is set, the targets are linked with it and
#                      CXXFLAGS, as the fuzzing engines (C++) want it
#   LIB_FUZZING_ENGINE link flag(s) of the fuzzing engine (default -fsanitize=fuzzer)
#   OUT                where the binaries, dictionaries and seed zips go
#                      (default build/fuzz, relative to the repository root)
#   WORK               where objects go (default $OUT/obj)
#   MSGPACK_CFLAGS, MSGPACK_LIBS
#                      msgpack-c flags (default: pkg-config msgpack, else -lmsgpackc)
#   CORPUS_DIR         if $CORPUS_DIR/<target> exists, it is zipped into
#                      $OUT/<target>_seed_corpus.zip with zip, else with python3's
#                      zipfile (default $OUT/corpus)
#   FUZZ_TARGETS       space-separated subset of the targets to build
#   SCWIRE_SRC         the core's source directory (default ref/src); lets you fuzz
#                      a patched copy without touching the tree
#
# Each target gets $OUT/<target>.dict and $OUT/<target>.options from fuzz/ when
# those exist, the names ClusterFuzzLite and OSS-Fuzz look for.
#
# The core is every ref/src/*.c except loop.c, peercred.c, resolve.c, main.c and cli.c
# (the libev glue and the programs' command lines), compiled with the same sanitizer
# flags as the targets.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

CC=${CC:-clang}
CFLAGS=${CFLAGS:--g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined}
LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}
OUT=${OUT:-build/fuzz}
WORK=${WORK:-$OUT/obj}
CORPUS_DIR=${CORPUS_DIR:-$OUT/corpus}
ALL_TARGETS="fuzz_codec fuzz_msg fuzz_actor fuzz_registry"
FUZZ_TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
SCWIRE_SRC=${SCWIRE_SRC:-ref/src}

if [ -z "${MSGPACK_CFLAGS+set}" ]; then
    MSGPACK_CFLAGS=$(pkg-config --cflags msgpack 2>/dev/null || true)
fi
if [ -z "${MSGPACK_LIBS+set}" ]; then
    MSGPACK_LIBS=$(pkg-config --libs msgpack 2>/dev/null || echo -lmsgpackc)
fi

if [ -n "${CXX:-}" ]; then
    LINK="$CXX ${CXXFLAGS:-}"
else
    LINK="$CC $CFLAGS"
fi

STD="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wno-unused-parameter"

mkdir -p "$OUT" "$WORK/core"

# shellcheck disable=SC2086 # flags are word lists on purpose
compile() {
    $CC $STD $MSGPACK_CFLAGS -I"$SCWIRE_SRC" -Ifuzz $CFLAGS -c -o "$2" "$1"
}

# zip_dir DIR ZIPFILE: every file under DIR, flat, into a new ZIPFILE.
zip_dir() {
    rm -f "$2"
    if [ -z "$(find "$1" -type f | head -n 1)" ]; then
        return 0
    elif command -v zip >/dev/null 2>&1; then
        (cd "$1" && find . -type f | zip -q -j "$2" -@)
    else
        "${PYTHON:-python3}" - "$1" "$2" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for base, _, files in os.walk(src):
        for f in sorted(files):
            z.write(os.path.join(base, f), f)
PY
    fi
}

core_objs=""
for src in "$SCWIRE_SRC"/*.c; do
    base=$(basename "$src" .c)
    case "$base" in loop|main|cli|peercred|resolve) continue ;; esac
    obj="$WORK/core/$base.o"
    compile "$src" "$obj"
    core_objs="$core_objs $obj"
done

for t in $FUZZ_TARGETS; do
    if [ ! -f "fuzz/$t.c" ]; then
        echo "build.sh: no such target: $t" >&2
        exit 2
    fi
    compile "fuzz/$t.c" "$WORK/$t.o"
    # shellcheck disable=SC2086
    $LINK -o "$OUT/$t" "$WORK/$t.o" $core_objs $LIB_FUZZING_ENGINE $MSGPACK_LIBS -lm
    for ext in dict options; do
        if [ -f "fuzz/$t.$ext" ]; then
            cp "fuzz/$t.$ext" "$OUT/$t.$ext"
        fi
    done
    if [ -f "fuzz/${t}_seed_corpus.zip" ]; then
        cp "fuzz/${t}_seed_corpus.zip" "$OUT/${t}_seed_corpus.zip"
    elif [ -d "$CORPUS_DIR/$t" ]; then
        zip_dir "$CORPUS_DIR/$t" "$(cd "$OUT" && pwd)/${t}_seed_corpus.zip"
    fi
    echo "build.sh: $OUT/$t"
done
