# SPDX-License-Identifier: AGPL-3.0-or-later
"""Known deviations of an IUT (--expect FILE), for CI baselines.

The file lists one case id a line (`area/test_name` or `area/test_name[param]`),
optionally followed by a TAB (or spaces) and the reason; `#` starts a comment
line, blank lines are ignored.  An id without `[param]` covers every
parametrization of that test.  A listed case that fails is XFAIL (the gate
holds), one that passes is XPASS (the gate fails: the baseline is out of
date), and an id that matches no collected case is an error of the suite
(the file is wrong; exit status 3).
"""
import re

_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z_][A-Za-z0-9_]*(\[.*\])?$")


class ExpectError(ValueError):
    pass


def parse(text, name="expect file"):
    """[(case id, reason, line number)] of an expect file's text."""
    out, seen = [], {}
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "\t" in stripped:
            cid, reason = stripped.split("\t", 1)
        elif "[" in stripped.split()[0] and "]" not in stripped.split()[0] and "]" in stripped:
            # "area/test[a b]  reason": a param with spaces runs to its "]".
            end = stripped.index("]") + 1
            cid, reason = stripped[:end], stripped[end:]
        else:
            parts = stripped.split(None, 1)
            cid, reason = parts[0], parts[1] if len(parts) > 1 else ""
        cid, reason = cid.strip(), reason.strip()
        if not _ID_RE.match(cid):
            raise ExpectError(f"{name}:{lineno}: {cid!r} is not a case id "
                              f"(area/test_name or area/test_name[param])")
        if cid in seen:
            raise ExpectError(f"{name}:{lineno}: {cid} is listed twice (first on line "
                              f"{seen[cid]})")
        seen[cid] = lineno
        out.append((cid, reason, lineno))
    return out


def load(path):
    """The entries of the expect file at path; ExpectError when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ExpectError(f"cannot read the expect file {path}: {e}") from None
    return parse(text, path)


def matches(entry_id, case_id):
    """Whether a listed id covers a case id (exactly, or every [param] of a test)."""
    return case_id == entry_id or ("[" not in entry_id and case_id.startswith(entry_id + "["))


class Expectations:
    """The entries of one expect file, matched against case ids."""

    def __init__(self, entries=()):
        self.entries = list(entries)

    def reason(self, case_id):
        """The reason a case is listed ("" when listed without one), or None."""
        for cid, reason, _ in self.entries:
            if matches(cid, case_id):
                return reason
        return None

    def unmatched(self, case_ids):
        """Listed entries that match none of case_ids: [(id, line)]."""
        case_ids = list(case_ids)
        return [(cid, lineno) for cid, _, lineno in self.entries
                if not any(matches(cid, c) for c in case_ids)]

    def __bool__(self):
        return bool(self.entries)
