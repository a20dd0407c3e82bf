# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the verdict rules."""
import pytest

from scwire_conform import verdict as V


def record(levels, **kw):
    return V.CaseRecord("area/test_x", "area", "test_x", list(levels), levels, **kw)


@pytest.mark.parametrize("levels,violations,expected", [
    ({"HS-1": "MUST"}, [], V.PASS),
    ({"HS-1": "MUST"}, [V.MUST], V.FAIL),
    ({"HS-1": "MUST"}, [V.SHOULD], V.NON_STRICT),
    ({"HS-1": "MUST", "HS-4": "SHOULD"}, [V.SHOULD, V.MUST], V.FAIL),
    ({"HS-4": "SHOULD"}, [V.MUST], V.NON_STRICT),
    ({"HS-4": "SHOULD"}, [V.SHOULD], V.NON_STRICT),
    ({"FRAME-11": "MAY"}, [V.MUST], V.NON_STRICT),
])
def test_violation_levels_map_to_verdicts(levels, violations, expected):
    rec = record(levels)
    for level in violations:
        rec.violate(V.Violation("x", level))
    assert rec.verdict() == expected


def test_info_skip_and_error():
    rec = record({"FRAME-11": "MAY"}, info_only=True)
    assert rec.verdict() == V.INFO
    rec.violate(V.Violation("changed", V.MUST))
    assert rec.verdict() == V.NON_STRICT
    rec = record({"HS-1": "MUST"})
    rec.skip_reason = "needs lenprefix"
    assert rec.verdict() == V.SKIP
    rec.skip_reason = "  "
    assert rec.verdict() == V.ERROR   # a skip must say why
    rec = record({"HS-1": "MUST"})
    rec.violate(V.Violation("x"))
    rec.error = "Traceback ..."
    assert rec.verdict() == V.ERROR


def test_must_should_info_helpers_use_the_current_record():
    rec = V.begin(record({"HS-1": "MUST"}))
    try:
        assert V.should(True, "fine")
        assert not V.should(False, "uuid not canonical")
        V.info("seen")
        with pytest.raises(V.Violation) as e:
            V.must(False, "no uid")
        assert e.value.level == V.MUST and str(e.value) == "no uid"
        assert [v.level for v in rec.violations] == [V.SHOULD]
        assert rec.infos == ["seen"] and rec.observation == "seen"
        assert rec.verdict() == V.NON_STRICT
    finally:
        V.end()
    assert V.current() is None
    with pytest.raises(V.Violation):
        V.should(False, "outside a case a failed SHOULD raises")
    with pytest.raises(ValueError):
        V.Violation("x", "MAY")
