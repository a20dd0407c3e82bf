# SPDX-License-Identifier: AGPL-3.0-or-later
"""End-to-end self-tests of the pytest plugin: verdicts, exit codes, reports.

A demo case file (written at run time, so that spec-trace does not take its
ids for real claims) runs under the real conftest against the fake IUT.
"""
import os

import pytest

from demorun import FAKE, run, write_demo


DEMO = '''
import os, signal
import pytest
from scwire_conform.verdict import info, must, should
from scwire_conform.wire import SERVICE

@pytest.mark.spec("HS-1")
def test_hs_1_passes(conn):
    """The IUT echoes."""
    must(conn.call(SERVICE, "echo", value=1).value == 1, "echo")

@pytest.mark.spec("HS-2")
def test_hs_2_fails(conn):
    """A MUST that fails."""
    conn.call(SERVICE, "echo", value=1)
    must(False, "expected x; observed y")

@pytest.mark.spec("HS-3", "HS-4")
def test_hs_3_should_fails(conn):
    """A SHOULD that fails."""
    should(False, "uuid not canonical")

@pytest.mark.spec("HS-4")
def test_hs_4_must_in_a_should_only_case(conn):
    must(False, "nope")

@pytest.fixture
def setup_violating_a_should():
    must(False, "seen while setting up")

@pytest.mark.spec("HS-4")
def test_hs_4_setup_fails_in_a_should_only_case(setup_violating_a_should):
    raise RuntimeError("the body ran although its setup failed")

@pytest.mark.spec("HS-5")
def test_hs_5_skips():
    pytest.skip("needs lenprefix")

@pytest.mark.spec("HS-6")
def test_hs_6_skips_without_reason():
    pytest.skip("")

@pytest.mark.spec("FRAME-11")
@pytest.mark.info_only
def test_frame_11_info(conn):
    info("ext refused")

@pytest.mark.spec("HS-7")
def test_hs_7_suite_bug():
    raise RuntimeError("bug in the suite")

@pytest.mark.spec("HS-8")
def test_hs_8_bare_assert(conn):
    assert 1 == 2

@pytest.mark.spec("HS-9")
@pytest.mark.may_kill
def test_hs_9_kills_the_iut(conn, iut):
    os.kill(iut.pid, signal.SIGKILL)
    iut.proc.wait()

@pytest.mark.spec("HS-10")
def test_hs_10_after_restart(conn):
    must(conn.call(SERVICE, "echo", value=2).value == 2, "echo")

@pytest.mark.spec("FRAME-1")
def test_frame_1_reset_mid_case(conn):
    """The connection goes on serving."""
    from scwire_conform.wire import Closed
    raise Closed("rst", conn.name)
'''

EXPECTED = {
    "demo/test_hs_1_passes": "PASS", "demo/test_hs_2_fails": "FAIL",
    "demo/test_hs_3_should_fails": "NON-STRICT",
    "demo/test_hs_4_must_in_a_should_only_case": "NON-STRICT",
    "demo/test_hs_4_setup_fails_in_a_should_only_case": "NON-STRICT",
    "demo/test_hs_5_skips": "SKIP",
    "demo/test_hs_6_skips_without_reason": "ERROR", "demo/test_frame_11_info": "INFO",
    "demo/test_hs_7_suite_bug": "ERROR", "demo/test_hs_8_bare_assert": "FAIL",
    "demo/test_hs_9_kills_the_iut": "FAIL", "demo/test_hs_10_after_restart": "PASS",
    "demo/test_frame_1_reset_mid_case": "FAIL",
}


@pytest.fixture
def demo(tmp_path):
    return write_demo(tmp_path, DEMO)



def test_verdicts_reports_and_suite_error_exit(demo):
    p, rep = run(demo)
    assert p.returncode == 3, p.stdout + p.stderr    # ERROR verdicts present
    got = {c["id"]: c["verdict"] for c in rep["cases"]}
    assert got == EXPECTED
    cases = {c["id"]: c for c in rep["cases"]}
    # A failure names the requirement, the expectation and the last of the wire log.
    lines = cases["demo/test_hs_2_fails"]["observation"].splitlines()
    assert lines[0] == "[MUST HS-2] expected x; observed y"
    assert lines[1] == "expected: A MUST that fails."
    assert lines[2].startswith("last on the wire: ") and '<- {"return": 1' in lines[2]
    assert cases["demo/test_hs_2_fails"]["violations"] == [
        {"level": "MUST", "spec_ids": ["HS-2"], "msg": "expected x; observed y",
         "robustness": False}]
    # A transport exception inside a case is an observation naming the check.
    lines = cases["demo/test_frame_1_reset_mid_case"]["observation"].splitlines()
    assert lines[0] == ("[MUST FRAME-1] c1: connection closed by the IUT (rst), while the case "
                        "still needed the connection (it waited for or sent the next message "
                        "of the exchange)")
    assert lines[1] == "expected: The connection goes on serving."
    assert cases["demo/test_hs_1_passes"]["expectation"] == "The IUT echoes."
    assert cases["demo/test_hs_1_passes"]["wire_log"][0]["event"] == "open"
    assert "SEC-1" in cases["demo/test_hs_9_kills_the_iut"]["observation"]
    assert any("restarted" in i for i in rep["incidents"])
    assert len(rep["iut"]["pids"]) == 2
    assert os.path.exists(demo / "out" / "cases" / "demo" / "test_hs_1_passes.wire.jsonl")
    assert os.path.exists(demo / "out" / "junit.xml")
    assert "NON-STRICT" in p.stdout and "TOTAL" in p.stdout


def test_exit_codes_and_strict(demo):
    p, _ = run(demo, "-k", "passes or should_fails")
    assert p.returncode == 0, p.stdout
    p, _ = run(demo, "-k", "passes or should_fails", "--strict")
    assert p.returncode == 1, p.stdout
    p, _ = run(demo, "-k", "passes or hs_2_fails")
    assert p.returncode == 1, p.stdout
    p, _ = run(demo, "-k", "no_such_case_anywhere")
    assert p.returncode == 3, p.stdout


def test_section_selects_by_id_prefix(demo):
    p, rep = run(demo, "--section", "HS-1")
    assert [c["id"] for c in rep["cases"]] == ["demo/test_hs_1_passes"]
    p, rep = run(demo, "--section", "FRAME")
    assert [c["id"] for c in rep["cases"]] == ["demo/test_frame_11_info",
                                              "demo/test_frame_1_reset_mid_case"]


def test_probe_failure_is_inconclusive(demo):
    p, rep = run(demo, iut=FAKE + " --exit-at-once 1")
    assert p.returncode == 2
    for flag in ("--silent", "--no-service"):
        p, rep = run(demo, "--timeout", "1", iut=f"{FAKE} {flag}")
        assert p.returncode == 2, p.stdout + p.stderr
        assert "INCONCLUSIVE" in p.stdout + p.stderr and rep["inconclusive"]


@pytest.mark.parametrize("flag,ids", [("--misframed", ["SVC-5", "FRAME-3"]),
                                      ("--bad-uid", ["HS-3"]),
                                      ("--mute", ["RPC-1", "RPC-6", "SVC-8"])])
def test_an_iut_that_answers_the_probe_wrongly_fails_the_requirement(demo, flag, ids):
    # Bytes that are not the codec's, or a message that is no uid, are the IUT's
    # failure on the wire, not an IUT the suite could not reach.
    p, rep = run(demo, "--timeout", "1", iut=f"{FAKE} {flag}")
    assert p.returncode == 1, p.stdout + p.stderr
    assert not rep.get("inconclusive")
    (case,) = rep["cases"]
    assert case["id"] == "probe/first-contact" and case["verdict"] == "FAIL"
    assert case["spec_ids"] == ids
    assert case["observation"].startswith(f"[MUST {' '.join(ids)}] the probe failed")
    assert case["wire_log"], "the probe's wire log is kept with the failure"


def test_rules_on_case_names_and_ids_are_enforced(demo):
    (demo / "cases" / "test_demo.py").write_text(
        "import pytest\n\n@pytest.mark.spec('HS-99')\ndef test_hs_1_x():\n    pass\n\n"
        "@pytest.mark.spec('HS-1')\ndef test_badly_named():\n    pass\n\n"
        "def test_no_ids():\n    pass\n")
    p, _ = run(demo)
    assert p.returncode > 2
    text = p.stdout + p.stderr
    assert "HS-99, which is not in the spec" in text
    assert "must start with test_<id>" in text and "no @pytest.mark.spec" in text


FREEZE_DEMO = '''
import os, signal
import pytest
from scwire_conform.verdict import must
from scwire_conform.wire import SERVICE

@pytest.mark.spec("HS-1")
def test_hs_1_leaves_the_iut_alive_but_deaf(conn, iut):
    os.kill(iut.pid, signal.SIGSTOP)

@pytest.mark.spec("HS-2")
def test_hs_2_runs_on_a_serving_iut(conn):
    must(conn.call(SERVICE, "echo", value=2).value == 2, "echo")
'''


def test_an_iut_left_not_serving_is_replaced_before_the_next_case(tmp_path):
    demo = write_demo(tmp_path, FREEZE_DEMO)
    p, rep = run(demo, "--timeout", "1")
    got = {c["id"]: c for c in rep["cases"]}
    # The case that left the IUT deaf fails it, as robustness; the next one runs
    # on a fresh IUT.
    deaf = got["demo/test_hs_1_leaves_the_iut_alive_but_deaf"]
    assert deaf["verdict"] == "FAIL", p.stdout
    assert deaf["observation"].startswith(
        "[MUST SEC-1] robustness: the IUT stopped serving right after this case")
    assert got["demo/test_hs_2_runs_on_a_serving_iut"]["verdict"] == "PASS"
    assert any("stopped serving before demo/test_hs_2" in i for i in rep["incidents"])
    assert len(rep["iut"]["pids"]) == 2
