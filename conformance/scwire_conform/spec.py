# SPDX-License-Identifier: AGPL-3.0-or-later
"""The requirement ids of the spec and their levels, read from spec/*.md.

Verdicts depend on the level of the ids a case claims (a failed MUST check
only fails a case that claims a MUST id), and a case may only claim ids that
exist.  The requirement line format is the one of spec/README.md.
"""
import os
import re

REQ_RE = re.compile(r"^\s*- \*\*([A-Z]+-[0-9]+)\*\* (MUST|SHOULD|MAY):")
REVISION_RE = re.compile(r"spec revision (\d+)")
DEFAULT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "spec")


class SpecError(Exception):
    pass


def load_levels(spec_dir=DEFAULT_DIR):
    """{id: "MUST"|"SHOULD"|"MAY"} for every requirement in spec_dir/*.md."""
    try:
        names = sorted(n for n in os.listdir(spec_dir) if n.endswith(".md"))
    except OSError as e:
        raise SpecError(f"cannot read the spec at {spec_dir}: {e}") from None
    levels = {}
    for name in names:
        with open(os.path.join(spec_dir, name), encoding="utf-8") as fh:
            for line in fh:
                m = REQ_RE.match(line)
                if m:
                    levels[m.group(1)] = m.group(2)
    if not levels:
        raise SpecError(f"no requirement ids in {spec_dir}/*.md")
    return levels


def revision(spec_dir=DEFAULT_DIR):
    """The spec revision stated in protocol.md ("spec revision N"), or "unknown"."""
    try:
        with open(os.path.join(spec_dir, "protocol.md"), encoding="utf-8") as fh:
            m = REVISION_RE.search(fh.read(4096))
    except OSError:
        return "unknown"
    return m.group(1) if m else "unknown"


def id_matches(rid, prefix):
    """Whether id rid falls under a --section prefix: "HS" or "HS-" take every
    HS id, "HS-1" takes HS-1 but not HS-10."""
    if not rid.startswith(prefix):
        return False
    rest = rid[len(prefix):]
    return not (rest[:1].isdigit() and prefix[-1:].isdigit())
