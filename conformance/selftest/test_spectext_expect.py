# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the requirement texts (spectext), the --expect file (expect)
and the verdicts across runs and baselines (verdict.combine/expected)."""
import pytest

from scwire_conform import expect, spec, spectext
from scwire_conform import verdict as V

SMALL = """# Title

Status: spec revision 7.

## 1. Framing (AB)

- **AB-1** MUST: The first line
  goes on here, `code` too.
- **AB-2** SHOULD: Short.

  An informative paragraph after a blank line.
- **AB-3** MAY: With a nested item
  - **AB-4** MUST: nested requirement
    with its own continuation.
- not a requirement, ends AB-4
### 1.1 Sub
- **AB-5** MUST: under a subsection
text at column 0 is no continuation
"""


def test_requirement_texts_of_a_small_spec(tmp_path):
    (tmp_path / "x.md").write_text(SMALL)
    reqs = spectext.load_requirements(str(tmp_path))
    assert set(reqs) == {"AB-1", "AB-2", "AB-3", "AB-4", "AB-5"}
    assert reqs["AB-1"]["text"] == "The first line goes on here, `code` too."
    assert reqs["AB-1"]["section"] == "1. Framing (AB)" and reqs["AB-1"]["line"] == 7
    assert reqs["AB-2"]["text"] == "Short." and reqs["AB-2"]["level"] == "SHOULD"
    assert reqs["AB-3"]["text"] == "With a nested item"
    assert reqs["AB-4"]["text"] == "nested requirement with its own continuation."
    assert reqs["AB-5"]["text"] == "under a subsection" and reqs["AB-5"]["section"] == "1.1 Sub"
    assert reqs["AB-5"]["file"] == "x.md"
    assert spectext.load_requirements(str(tmp_path / "missing")) == {}


def test_every_spec_id_has_a_text():
    reqs = spectext.load_requirements()
    levels = spec.load_levels()
    assert set(reqs) == set(levels)
    assert all(reqs[r]["level"] == levels[r] and reqs[r]["text"] for r in levels)
    assert reqs["FRAME-1"]["text"].endswith("MUST carry exactly one channel for its whole life.")


def test_expect_file_format():
    entries = expect.parse(
        "# known deviations of my-actor\n\n"
        "handshake/test_hs_1_uid_sent_first\tsends its uid late\n"
        "rpc/test_rpc_6_x[a]   spaces work too\n"
        "rpc/test_rpc_7_y\n"
        "rpc/test_rpc_8_z[with space] reason\n")
    assert entries == [("handshake/test_hs_1_uid_sent_first", "sends its uid late", 3),
                       ("rpc/test_rpc_6_x[a]", "spaces work too", 4),
                       ("rpc/test_rpc_7_y", "", 5),
                       ("rpc/test_rpc_8_z[with space]", "reason", 6)]
    ex = expect.Expectations(entries)
    assert ex.reason("rpc/test_rpc_7_y") == "" and ex.reason("rpc/test_rpc_7_y[p]") == ""
    assert ex.reason("rpc/test_rpc_6_x[b]") is None and ex.reason("rpc/test_rpc_6_x") is None
    assert ex.reason("rpc/test_rpc_7_yz") is None
    assert ex.unmatched(["handshake/test_hs_1_uid_sent_first", "rpc/test_rpc_7_y[1]"]) == [
        ("rpc/test_rpc_6_x[a]", 4), ("rpc/test_rpc_8_z[with space]", 6)]
    assert not expect.Expectations([])


@pytest.mark.parametrize("text,what", [
    ("not-an-id\n", "is not a case id"),
    ("a/test_x\na/test_x\treason\n", "listed twice"),
])
def test_bad_expect_files(text, what):
    with pytest.raises(expect.ExpectError, match=what):
        expect.parse(text)


def test_unreadable_expect_file(tmp_path):
    with pytest.raises(expect.ExpectError, match="cannot read"):
        expect.load(str(tmp_path / "missing.txt"))


def test_verdicts_across_runs_and_baselines():
    assert V.combine([V.PASS, V.PASS]) == V.PASS
    assert V.combine([V.FAIL]) == V.FAIL
    assert V.combine([V.PASS, V.FAIL, V.PASS]) == V.FLAKY
    assert V.combine([V.SKIP, V.PASS]) == V.FLAKY
    with pytest.raises(ValueError):
        V.combine([])
    assert [V.expected(v) for v in (V.FAIL, V.NON_STRICT, V.PASS, V.INFO, V.SKIP, V.ERROR,
                                    V.FLAKY)] == [V.XFAIL, V.XFAIL, V.XPASS, V.XPASS, V.SKIP,
                                                  V.ERROR, V.FLAKY]
    gate = {v for v in V.VERDICTS if V.fails_gate(v)}
    assert gate == {V.FAIL, V.ERROR, V.XPASS, V.FLAKY}
    assert {v for v in V.VERDICTS if V.fails_gate(v, strict=True)} == gate | {V.NON_STRICT}


def test_the_report_shows_the_worst_run():
    def rec(run, fail):
        r = V.CaseRecord("a/test_x", "a", "test_x", ["HS-1"], {"HS-1": "MUST"})
        r.run = run
        if fail:
            r.violate(V.Violation("no"))
        return r
    runs = [rec(1, False), rec(2, True), rec(3, True)]
    assert V.representative(runs).run == 2
    same = [rec(1, False), rec(2, False)]
    assert V.representative(same).run == 2
