#!/bin/bash -eu
# SPDX-License-Identifier: AGPL-3.0-or-later
# build.sh - the build ClusterFuzzLite runs in its builder image (and OSS-Fuzz
# too, through fuzz/oss-fuzz/build.sh), with CC, CXX, CFLAGS, CXXFLAGS,
# LIB_FUZZING_ENGINE, OUT, SRC and WORK set by the engine and the repository
# in $SRC/scwire.
#
# It writes the seed corpora from the repository (the recorded conversations
# and synthetic scenarios of fuzz/gen-corpus.py, and every input of
# fuzz/regressions/) and hands over to fuzz/build.sh, which puts each target,
# its <target>.dict and its <target>_seed_corpus.zip in $OUT.  msgpack-c is
# linked statically: the engines' runner image has no libmsgpackc.
#
# fuzz/engine-build-check runs this script the same way on a plain host.
ROOT=${SCWIRE_ROOT:-$SRC/scwire}
cd "$ROOT"
PYTHON=${PYTHON:-python3}

for pc in msgpack-c msgpack; do
    if pkg-config --exists "$pc" 2>/dev/null; then
        MSGPACK_CFLAGS=$(pkg-config --cflags "$pc")
        libdirs=$(pkg-config --variable=libdir "$pc")
        break
    fi
done
# The static library where pkg-config says, else where the compiler finds it
# (a multiarch directory that the .pc file does not name).
for lib in libmsgpack-c.a libmsgpackc.a; do
    for dir in ${libdirs:-}; do
        if [ -f "$dir/$lib" ]; then
            MSGPACK_LIBS="$dir/$lib"
        fi
    done
    found=$(${CC:-clang} -print-file-name="$lib" 2>/dev/null || true)
    if [ -z "${MSGPACK_LIBS:-}" ] && [ "$found" != "$lib" ] && [ -f "$found" ]; then
        MSGPACK_LIBS="$found"
    fi
    if [ -n "${MSGPACK_LIBS:-}" ]; then
        break
    fi
done
if [ -z "${MSGPACK_LIBS:-}" ]; then
    echo "build.sh: no static msgpack-c library (libmsgpack-dev); the targets will need" \
         "libmsgpackc at run time" >&2
fi
export MSGPACK_CFLAGS=${MSGPACK_CFLAGS:-} MSGPACK_LIBS=${MSGPACK_LIBS:--lmsgpackc} PYTHON

corpus="$WORK/corpus"
rm -rf "$corpus"
"$PYTHON" fuzz/gen-corpus.py "$corpus"
for dir in fuzz/regressions/*/; do
    t=$(basename "$dir")
    mkdir -p "$corpus/$t"
    for f in "$dir"*; do
        case "$(basename "$f")" in README*|*.md|.gitkeep) continue ;; esac
        if [ -f "$f" ]; then
            cp "$f" "$corpus/$t/regression-$(basename "$f")"
        fi
    done
done

CORPUS_DIR="$corpus" WORK="$WORK/obj" sh fuzz/build.sh
