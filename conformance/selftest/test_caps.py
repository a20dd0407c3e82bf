# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of IUT capabilities: declaring them, SKIPs that name the one
missing, the summary of what a run did not reach, and the child template."""
import os
import sys
import xml.etree.ElementTree as ET

import pytest

from demorun import CONFORMANCE, FAKE, run, write_demo
from scwire_conform import caps

TOP = os.path.dirname(CONFORMANCE)
REF = os.path.join(TOP, "build", "scwire-ref")
# The reference runtime under a template that is not the default one, so that
# it gets no capability it does not declare.
REF_AS_OTHER = REF + " --codec {codec} --listen {host}:{port}"

DEMO = '''
import pytest
from scwire_conform.verdict import must
from scwire_conform.wire import SERVICE

@pytest.mark.spec("HS-1")
def test_hs_1_core(conn):
    """The core needs no capability."""
    must(conn.call(SERVICE, "echo", value=1).value == 1, "echo")

@pytest.mark.spec("HS-2")
@pytest.mark.needs("supervision")
def test_hs_2_needs_supervision(conn):
    """Runs only when supervision is declared."""

@pytest.mark.spec("HS-3")
@pytest.mark.needs("ctx-call")
def test_hs_3_needs_ctx_call(conn):
    """Runs only when ctx-call is declared."""

@pytest.mark.spec("HS-4")
def test_hs_4_private_with_a_bound_flag(private_iut):
    """A private IUT with a bound's flag needs the capability limits."""
    private_iut("--max-frame", "65536")
'''


def test_names_files_and_flags():
    assert caps.parse_names(["limits", " child "]) == {"limits", "child"}
    with pytest.raises(caps.CapsError, match="unknown capability 'supervise'; known: child"):
        caps.parse_names(["supervise"])
    assert caps.needed_for_flags(["--registry-role", "--max-registry", "4"]) == \
        {"registry-role", "limits"}
    assert caps.needed_for_flags(["--registry", "127.0.0.1:1"]) == {"registry-client"}
    reason = caps.skip_text("limits")
    assert caps.missing_of(reason) == "limits" and "--iut-cap limits" in reason
    assert caps.missing_of("checks the lenprefix codec") is None


def test_a_capabilities_file_takes_comments_and_names_a_bad_line(tmp_path):
    f = tmp_path / "caps"
    f.write_text("# my-actor\nlimits   # the bound flags\n\nctx-call\n")
    assert caps.load_file(str(f)) == {"limits", "ctx-call"}
    f.write_text("limits\nsupervison\n")
    with pytest.raises(caps.CapsError, match=r"caps:2: unknown capability 'supervison'"):
        caps.load_file(str(f))


@pytest.fixture
def demo(tmp_path):
    return write_demo(tmp_path, DEMO)


def by_id(rep):
    return {c["id"].split("/", 1)[1]: c for c in rep["cases"]}


def test_undeclared_capabilities_skip_naming_them_and_the_summary_counts_them(demo):
    p, rep = run(demo)
    assert p.returncode == 0, p.stdout + p.stderr
    cases = by_id(rep)
    assert cases["test_hs_1_core"]["verdict"] == "PASS"
    for name, cap in (("test_hs_2_needs_supervision", "supervision"),
                      ("test_hs_3_needs_ctx_call", "ctx-call"),
                      ("test_hs_4_private_with_a_bound_flag", "limits")):
        assert cases[name]["verdict"] == "SKIP"
        assert cases[name]["missing_capability"] == cap
        assert f"--iut-cap {cap}" in cases[name]["observation"]
    assert rep["declared_capabilities"] == []
    assert rep["capability_skips"] == {"ctx-call": 1, "limits": 1, "supervision": 1}
    out = " ".join(p.stdout.split())
    assert "declared capabilities: none" in out
    assert ("SKIP for want of a capability the IUT did not declare: ctx-call 1, limits 1, "
            "supervision 1") in out
    # Three of four cases skipped: the run says so on the terminal and in JUnit.
    assert "WARNING: 3 of 4 selected cases (75%) were SKIPPED" in out
    junit = ET.parse(demo / "out" / "junit.xml").getroot()
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["capability_skips"] == "ctx-call=1,limits=1,supervision=1"
    assert props["coverage_warning"].startswith("3 of 4 selected cases")
    assert any("WARNING: 3 of 4" in (e.text or "") for e in junit.iter("system-err"))


def test_declared_capabilities_run_their_cases(demo, tmp_path):
    capfile = tmp_path / "caps"
    capfile.write_text("ctx-call\n")
    p, rep = run(demo, "--iut-cap", "supervision", "--iut-caps", str(capfile),
                 "-k", "needs")
    assert p.returncode == 0, p.stdout + p.stderr
    assert {c["verdict"] for c in rep["cases"]} == {"PASS"}
    assert rep["declared_capabilities"] == ["ctx-call", "supervision"]
    assert rep["coverage_warning"] is None
    assert "WARNING" not in p.stdout


def test_an_unknown_capability_is_a_usage_error(demo):
    p, rep = run(demo, "--iut-cap", "telepathy")
    assert p.returncode not in (0, 1, 2), p.stdout
    assert "unknown capability 'telepathy'" in p.stdout + p.stderr


def test_the_child_capability_needs_a_child_template(demo):
    p, _ = run(demo, "--iut-cap", "child")
    assert p.returncode not in (0, 1, 2)
    assert "the capability child needs --iut-child-cmd" in p.stdout + p.stderr
    p, _ = run(demo, "--iut-cap", "child", "--iut-child-cmd", "x --uid {uid}")
    assert "places {uid} but not {parent_addr}" in p.stdout + p.stderr


# --- the real cases --------------------------------------------------------

def ref_run(tmp_path, *args, timeout=300):
    if not os.access(REF, os.X_OK):
        pytest.fail(f"{REF} is missing: run make first")
    return run(tmp_path, *args, iut=REF_AS_OTHER, timeout=timeout,
               cases=os.path.join(CONFORMANCE, "cases"))


def test_an_iut_without_supervision_gets_skip_never_fail_on_supervision(tmp_path):
    p, rep = ref_run(tmp_path, "-k", "supervision and not chop1")
    assert rep and rep["cases"], p.stdout + p.stderr
    sup = [c for c in rep["cases"] if c["area"] == "supervision"]
    assert len(sup) > 20
    assert {c["verdict"] for c in sup} == {"SKIP"}
    assert {c["missing_capability"] for c in sup} <= {"supervision", "child"}


def test_a_child_that_dies_at_once_fails_with_its_stderr(tmp_path):
    dying = f"{sys.executable} -c \"import sys; sys.exit('usage: no --uid here')\""
    p, rep = ref_run(tmp_path, "--iut-cap", "child", "--iut-cap", "supervision",
                     "--iut-child-cmd", dying, "-k", "test_sup_12_child_exits")
    (case,) = rep["cases"]
    assert case["verdict"] == "FAIL"
    assert "exited with status 1 without connecting to its parent" in case["observation"]
    assert "usage: no --uid here" in case["observation"]
    assert "--uid ('kid-" in case["observation"]
