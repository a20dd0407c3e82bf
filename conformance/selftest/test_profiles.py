# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the expectation profiles: the table of spec/profiles.md and how
a case's failed checks are read against it."""
import os

from scwire_conform import profiles, spec
from scwire_conform import verdict as V

VECTORS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "vectors", "tractor-0.1.0a4")
TABLE = {"CID-10": profiles.Row("CID-10", "refused", "runs it", "profile/cid_10.jsonl"),
         "RPC-4": profiles.Row("RPC-4", "TypeError", "functype first", "profile/rpc_4.jsonl")}


def record(*ids):
    levels = spec.load_levels()
    return V.CaseRecord("x/test_y", "x", "test_y", list(ids), {i: levels[i] for i in ids})


def test_every_row_names_a_requirement_and_a_recording_that_exist():
    levels = spec.load_levels()
    table = profiles.load_table()
    assert table, "spec/profiles.md has no rows"
    for rid, row in table.items():
        # FRAME-11 is a MAY whose second half is a MUST: a row may name such an id.
        assert rid in levels, f"{rid}: not an id of the spec"
        assert rid not in profiles.ROBUSTNESS_IDS
        assert row.strict and row.tractor, f"{rid}: a cell is empty"
        assert os.path.isfile(os.path.join(VECTORS, row.evidence)), \
            f"{rid}: the evidence {row.evidence} is not in {VECTORS}"


def test_the_tractor_profile_excuses_a_listed_requirement_as_non_strict():
    rec = record("CID-10")
    rec.violate(V.Violation("got functype"))
    profiles.apply(rec, profiles.TRACTOR, TABLE)
    assert rec.verdict() == V.NON_STRICT
    assert rec.violations[0].msg.startswith("tractor profile: CID-10 differs in tractor 0.1.0a4 "
                                            "(runs it; evidence profile/cid_10.jsonl)")


def test_strict_keeps_the_failure_and_names_what_tractor_does():
    rec = record("CID-10")
    rec.violate(V.Violation("got functype"))
    profiles.apply(rec, profiles.STRICT, TABLE)
    assert rec.verdict() == V.FAIL
    assert rec.violations[0].msg.endswith("[tractor 0.1.0a4 differs here: CID-10: runs it "
                                          "(spec/profiles.md)]")


def test_robustness_is_never_excused():
    rec = record("CID-10")
    rec.violate(V.Violation("the IUT exited", rid="CID-10", robustness=True))
    profiles.apply(rec, profiles.TRACTOR, TABLE)
    assert rec.verdict() == V.FAIL and rec.violations[0].msg == "the IUT exited"


def test_a_check_is_excused_only_when_every_requirement_it_is_about_is_listed():
    rec = record("RPC-4", "SVC-6", "SEC-1")
    rec.violate(V.Violation("functype first"))
    profiles.apply(rec, profiles.TRACTOR, TABLE)
    assert rec.verdict() == V.FAIL, "SVC-6 has no row: the check may be about it"
    rec = record("RPC-4", "SVC-6", "SEC-1")
    rec.violate(V.Violation("functype first", rid="RPC-4"))
    profiles.apply(rec, profiles.TRACTOR, TABLE)
    assert rec.verdict() == V.NON_STRICT, "the check names RPC-4, which has a row"
    rec = record("RPC-4", "SEC-1", "SEC-2")
    rec.violate(V.Violation("functype first"))
    profiles.apply(rec, profiles.TRACTOR, TABLE)
    assert rec.verdict() == V.NON_STRICT, "SEC-1 and SEC-2 are robustness, not attributed"
