#!/bin/bash -eu
# SPDX-License-Identifier: AGPL-3.0-or-later
# build.sh - OSS-Fuzz's build of scwire: the same as ClusterFuzzLite's, which
# the repository keeps (.clusterfuzzlite/build.sh), so both engines build the
# targets, dictionaries and seed corpora alike.
exec bash "$SRC/scwire/.clusterfuzzlite/build.sh"
