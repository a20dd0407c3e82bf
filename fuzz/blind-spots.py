#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""blind-spots.py - list the functions that no input reached, from the JSON
of `llvm-cov export` (fuzz/coverage.sh): one "file:line function" a line,
sorted.  A function is reached if any binary of the export ran it."""
import json
import sys


def blind_spots(export):
    reached = {}
    for data in export.get("data", []):
        for fn in data.get("functions", []):
            files = fn.get("filenames") or ["?"]
            line = fn["regions"][0][0] if fn.get("regions") else 0
            # Static functions are named "file.c:name" in the profile.
            name = fn["name"].rsplit(":", 1)[-1]
            key = (files[0], line, name)
            reached[key] = reached.get(key, False) or fn.get("count", 0) > 0
    return sorted(k for k, hit in reached.items() if not hit)


def main(argv):
    if len(argv) != 2:
        print("usage: blind-spots.py EXPORT.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        export = json.load(f)
    for path, line, name in blind_spots(export):
        print("%s:%d %s" % (path, line, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
