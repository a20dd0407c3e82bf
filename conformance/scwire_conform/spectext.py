# SPDX-License-Identifier: AGPL-3.0-or-later
"""The text of each requirement of the spec, for reports and the catalogue.

A requirement is a list item of spec/*.md matching the regex that
tools/spec-trace and spec.py use; its text is the rest of that line and the
continuation lines under it (indented, up to a blank line, a heading or the
next list item at the same indentation), joined into one line.  The section
is the last heading above it.
"""
import os
import re

from .spec import DEFAULT_DIR, REQ_RE

_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM_RE = re.compile(r"^(\s*)[-*+] ")


def load_requirements(spec_dir=DEFAULT_DIR):
    """{id: {"id", "level", "text", "file", "line", "section"}} of spec_dir/*.md;
    {} when the spec cannot be read (reports then show ids without text)."""
    try:
        names = sorted(n for n in os.listdir(spec_dir) if n.endswith(".md"))
    except OSError:
        return {}
    reqs = {}
    for name in names:
        try:
            with open(os.path.join(spec_dir, name), encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        reqs.update(parse(lines, name))
    return reqs


def parse(lines, name="spec.md"):
    """The requirements in the lines of one spec file (see the module text)."""
    out = {}
    section = ""
    cur = None
    indent = 0
    for lineno, line in enumerate(lines, 1):
        m = REQ_RE.match(line)
        if m:
            rid, level = m.groups()
            indent = len(line) - len(line.lstrip())
            cur = {"id": rid, "level": level, "file": name, "line": lineno,
                   "section": section, "parts": [line[m.end():].strip()]}
            out.setdefault(rid, cur)
            continue
        h = _HEADING_RE.match(line)
        if h:
            section = h.group(2)
            cur = None
            continue
        if cur is None:
            continue
        if not line.strip():
            cur = None
            continue
        item = _ITEM_RE.match(line)
        if item and len(item.group(1)) <= indent:
            cur = None
            continue
        if len(line) - len(line.lstrip()) <= indent:
            cur = None
            continue
        cur["parts"].append(line.strip())
    for req in out.values():
        req["text"] = " ".join(p for p in req.pop("parts") if p)
    return out
