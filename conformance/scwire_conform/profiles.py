# SPDX-License-Identifier: AGPL-3.0-or-later
"""Expectation profiles: judge by the spec (`strict`) or by tractor 0.1.0a4 (`tractor`).

spec/profiles.md lists, one row per requirement, where tractor 0.1.0a4 does
otherwise without dying, with a recording as evidence.  After a case has run,
`apply` reads its failed checks against that table:

- under `strict` a failure of a listed requirement keeps its verdict, and its
  text says what tractor does instead;
- under `tractor` it becomes NON-STRICT (tractor's behaviour, legal in its
  profile, is weaker than the strict one), naming the row and its evidence;
- a failure of robustness (the IUT died, hung, stopped serving others, lost
  data) is never touched: it fails in every profile.

A check is attributed to the requirement its Violation names (`rid`), else to
the MUST ids its case claims besides SEC-1 and SEC-2; only when every one of
them is listed does the tractor profile excuse it.  `outcome` judges a single
observation the two profiles expect differently, where a case can tell them
apart itself.
"""
import os
import re

from .spec import DEFAULT_DIR
from .verdict import MUST, SHOULD, info, must

STRICT, TRACTOR = "strict", "tractor"
PROFILES = (STRICT, TRACTOR)
TABLE_FILE = "profiles.md"
# The requirements of robustness themselves: never a difference of a profile.
ROBUSTNESS_IDS = ("SEC-1", "SEC-2")
_ROW_RE = re.compile(r"^\|\s*([A-Z]+-[0-9]+)\s*\|(.*)\|\s*$")


class Row:
    """What tractor 0.1.0a4 does where it differs from one requirement."""

    def __init__(self, rid, strict, tractor, evidence):
        self.rid, self.strict, self.tractor, self.evidence = rid, strict, tractor, evidence


def load_table(spec_dir=DEFAULT_DIR):
    """{requirement id: Row} of spec/profiles.md."""
    rows = {}
    with open(os.path.join(spec_dir, TABLE_FILE), encoding="utf-8") as fh:
        for line in fh:
            m = _ROW_RE.match(line)
            if not m:
                continue
            cells = [c.strip() for c in m.group(2).split("|")]
            if len(cells) != 3:
                raise ValueError(f"{TABLE_FILE}: row {m.group(1)} needs 4 cells: {line.strip()}")
            rows[m.group(1)] = Row(m.group(1), *cells)
    return rows


def attributed(rec, violation):
    """The requirement ids a failed check is about (see the module text)."""
    if violation.rid:
        return [violation.rid]
    return [rid for rid in rec.spec_ids
            if rec.levels.get(rid) == MUST and rid not in ROBUSTNESS_IDS]


def apply(rec, profile, table):
    """Read the failed checks of a case record against the profile table."""
    for v in rec.violations:
        if v.robustness or v.level != MUST:
            continue
        ids = attributed(rec, v)
        rows = [table[rid] for rid in ids if rid in table]
        if not rows:
            continue
        if profile == TRACTOR and len(rows) == len(ids):
            v.level = SHOULD
            v.msg = ("tractor profile: " + "; ".join(
                f"{r.rid} differs in tractor 0.1.0a4 ({r.tractor}; evidence {r.evidence})"
                for r in rows) + f": {v.msg}")
        else:
            v.msg += " [tractor 0.1.0a4 differs here: " + "; ".join(
                f"{r.rid}: {r.tractor}" for r in rows) + " (spec/profiles.md)]"


def outcome(profile, observed, *, spec, tractor, spec_ok, tractor_ok, what=""):
    """Judge one outcome: `spec_ok`/`tractor_ok` say whether the observed
    outcome is what the spec / tractor 0.1.0a4 gives; `spec` and `tractor`
    describe those outcomes for the observation."""
    lead = f"{what}: " if what else ""
    text = (f"{lead}observed {observed}; the spec expects {spec}; "
            f"tractor 0.1.0a4 {tractor}")
    if profile == TRACTOR:
        must(tractor_ok, f"judged by tractor 0.1.0a4 (--expect-profile tractor): {text}")
    else:
        must(spec_ok, text)
    info(text)
    return text
