# SPDX-License-Identifier: AGPL-3.0-or-later
"""End-to-end self-tests of --expect, --repeat, --catalogue, --strict, the HTML
report and the versions every report names, against the fake IUT.

As in test_plugin.py the demo cases are written at run time, so that
spec-trace does not take their ids for real claims.
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from demorun import CONFORMANCE, run, write_demo
from scripts import load_script

CLI = os.path.join(CONFORMANCE, "scwire-conform")

DEMO = '''
import pytest
from scwire_conform.verdict import must, should
from scwire_conform.wire import SERVICE

STATIC_BYTES = {"test_hs_3_static": ["c1", {"hex": "92A1", "send": "raw"}]}
_calls = {"n": 0}

@pytest.mark.spec("HS-1")
def test_hs_1_passes(conn):
    """The IUT echoes. More text."""
    must(conn.call(SERVICE, "echo", value=1).value == 1, "echo")

@pytest.mark.spec("HS-2")
def test_hs_2_fails(conn):
    """A MUST that fails."""
    must(False, "c1: expected x; observed y")

@pytest.mark.spec("HS-4")
def test_hs_4_should_fails(conn):
    """A SHOULD that fails."""
    should(False, "uuid not canonical")

@pytest.mark.spec("HS-5")
@pytest.mark.parametrize("p", ["a", "b"])
def test_hs_5_flaky(conn, p):
    """Fails every second run."""
    _calls["n"] += 1
    must(_calls["n"] % 2 == 1, f"run {_calls['n']}: expected an odd run; observed an even one")

@pytest.mark.spec("HS-3")
def test_hs_3_static(raw_conn):
    """Sends fixed bytes."""
    raw_conn.send_raw(bytes.fromhex("c0") + b"\\x00" * 2)
    raw_conn.send_body(b"\\xc1")

@pytest.mark.spec("REG-11")
def test_reg_11_uses_a_registry(registry_server):
    """The suite plays the registry."""

@pytest.mark.spec("REG-12")
@pytest.mark.role("client")
def test_reg_12_says_client(conn):
    """Marked client."""
'''


@pytest.fixture
def demo(tmp_path):
    return write_demo(tmp_path, DEMO)



def verdicts(rep):
    return {c["id"]: c["verdict"] for c in rep["cases"]}


def test_every_report_names_suite_version_and_spec_revision(demo):
    p, rep = run(demo, "-k", "passes")
    assert p.returncode == 0, p.stdout + p.stderr
    assert rep["suite_version"] == "0.1.0" and rep["spec_revision"] == "3"
    assert rep["exit_status"] == 0 and rep["started"] and rep["duration_s"] > 0
    out = demo / "out"
    root = ET.parse(out / "junit.xml").getroot()
    props = {q.get("name"): q.get("value") for q in root.find("testsuite/properties")}
    assert props["suite_version"] == "0.1.0" and props["spec_revision"] == "3"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "suite version" in page and "spec revision" in page and "<svg" not in page
    # A passing case's diagram is on a page of its own, linked from the report.
    assert 'href="cases/demo/test_hs_1_passes.html"' in page
    assert "<svg" in (out / "cases" / "demo" / "test_hs_1_passes.html").read_text(encoding="utf-8")
    assert "scwire-conform 0.1.0, spec revision 3, profile 0.1.0a4, codec msgpack" in p.stdout
    assert f"HTML report: {out / 'report.html'}" in p.stdout


def test_html_path_option(demo, tmp_path):
    p, _ = run(demo, "-k", "passes", "--html", str(tmp_path / "elsewhere.html"))
    assert p.returncode == 0
    assert (tmp_path / "elsewhere.html").exists() and not (demo / "out" / "report.html").exists()


def test_expect_turns_known_failures_into_xfail(demo, tmp_path):
    exp = tmp_path / "known.txt"
    exp.write_text("# baseline\ndemo/test_hs_2_fails\tnot fixed yet\n"
                   "demo/test_hs_4_should_fails\n")
    p, rep = run(demo, "-k", "passes or fails", "--expect", str(exp))
    assert p.returncode == 0, p.stdout + p.stderr
    assert verdicts(rep) == {"demo/test_hs_1_passes": "PASS", "demo/test_hs_2_fails": "XFAIL",
                             "demo/test_hs_4_should_fails": "XFAIL"}
    cases = {c["id"]: c for c in rep["cases"]}
    assert cases["demo/test_hs_2_fails"]["expected_deviation"] == "not fixed yet"
    assert rep["summary"]["xfail"] == 2 and "XFAIL: 2 known deviation(s)" in p.stdout
    # XFAIL holds the gate under --strict too.
    p, _ = run(demo, "-k", "passes or fails", "--expect", str(exp), "--strict")
    assert p.returncode == 0, p.stdout


def test_expect_unexpected_pass_is_xpass_and_fails(demo, tmp_path):
    exp = tmp_path / "known.txt"
    exp.write_text("demo/test_hs_1_passes\tthought broken\n")
    p, rep = run(demo, "-k", "passes", "--expect", str(exp))
    assert p.returncode == 1, p.stdout
    assert verdicts(rep) == {"demo/test_hs_1_passes": "XPASS"}
    assert "XPASS" in p.stdout and "thought broken" in p.stdout
    assert "XPASS" in (demo / "out" / "junit.xml").read_text()


def test_expect_entry_without_a_case_is_a_suite_error(demo, tmp_path):
    exp = tmp_path / "known.txt"
    exp.write_text("demo/test_hs_1_passes\ndemo/test_hs_99_gone\n")
    p, _ = run(demo, "-k", "passes", "--expect", str(exp))
    assert p.returncode == 3, p.stdout + p.stderr
    assert "demo/test_hs_99_gone" in p.stdout + p.stderr
    assert "known.txt:2" in p.stdout + p.stderr
    # A case that exists but is not selected is no error; a bare name covers its params.
    exp.write_text("demo/test_hs_2_fails\ndemo/test_hs_5_flaky\n")
    p, rep = run(demo, "-k", "passes", "--expect", str(exp))
    assert p.returncode == 0, p.stdout + p.stderr
    exp.write_text("not an id\n")
    p, _ = run(demo, "-k", "passes", "--expect", str(exp))
    assert p.returncode > 2


def test_repeat_keeps_every_run_and_finds_flaky_cases(demo):
    p, rep = run(demo, "-k", "passes or flaky", "--repeat", "3")
    assert p.returncode == 1, p.stdout + p.stderr
    got = {c["id"]: c for c in rep["cases"]}
    assert verdicts(rep) == {"demo/test_hs_1_passes": "PASS", "demo/test_hs_5_flaky[a]": "FLAKY",
                             "demo/test_hs_5_flaky[b]": "FLAKY"}
    # Runs alternate across the whole session: a (1,2,3), then b (4,5,6).
    assert [r["verdict"] for r in got["demo/test_hs_5_flaky[a]"]["runs"]] == ["PASS", "FAIL",
                                                                             "PASS"]
    assert [r["verdict"] for r in got["demo/test_hs_5_flaky[b]"]["runs"]] == ["FAIL", "PASS",
                                                                             "FAIL"]
    assert got["demo/test_hs_5_flaky[a]"]["shown_run"] == 2
    assert len(got["demo/test_hs_1_passes"]["runs"]) == 3
    assert rep["summary"]["flaky"] == 2 and rep["repeat"] == 3
    assert "FLAKY: 2 case(s) whose runs disagreed" in p.stdout
    logs = sorted(os.listdir(demo / "out" / "cases" / "demo"))
    assert "test_hs_1_passes.run1.wire.jsonl" in logs and "test_hs_1_passes.run3.wire.jsonl" in logs
    # Three runs, three connections: the case's own fixtures are set up each time, the
    # session's IUT once.
    assert len(rep["iut"]["pids"]) == 1
    root = ET.parse(demo / "out" / "junit.xml").getroot()
    types = {tc.get("name"): tc.find("failure").get("type") for tc in root.iter("testcase")
             if tc.find("failure") is not None}
    assert types == {"test_hs_5_flaky[a]": "FLAKY", "test_hs_5_flaky[b]": "FLAKY"}


def test_repeat_of_a_stable_failure_is_a_failure_not_flaky(demo):
    p, rep = run(demo, "-k", "hs_2_fails", "--repeat", "2")
    assert p.returncode == 1 and verdicts(rep) == {"demo/test_hs_2_fails": "FAIL"}
    p, rep = run(demo, "-k", "zzz_nothing", "--repeat", "2")
    assert p.returncode == 3
    p, rep = run(demo, "--repeat", "0")
    assert p.returncode > 2


def test_strict_makes_non_strict_fail_in_exit_code_and_junit(demo):
    p, _ = run(demo, "-k", "should_fails")
    assert p.returncode == 0
    root = ET.parse(demo / "out" / "junit.xml").getroot()
    assert root.find(".//failure") is None
    p, _ = run(demo, "-k", "should_fails", "--strict")
    assert p.returncode == 1
    root = ET.parse(demo / "out" / "junit.xml").getroot()
    assert root.find(".//failure").get("type") == "NON-STRICT"


def test_catalogue_of_demo_cases(demo, tmp_path):
    path = tmp_path / "cat.json"
    p, _ = run(demo, "--catalogue", str(path), "--iut-cmd", "/nonexistent-iut")
    assert p.returncode == 0, p.stdout + p.stderr
    cat = json.loads(path.read_text())
    assert cat["suite_version"] == "0.1.0" and cat["spec_revision"] == "3"
    cases = {c["id"]: c for c in cat["cases"]}
    assert cat["count"] == len(cases) == 8
    c = cases["demo/test_hs_1_passes"]
    assert c["title"] == "The IUT echoes" and c["role"] == "server" and c["level"] == "MUST"
    assert c["spec_ids"] == [{"id": "HS-1", "level": "MUST"}] and c["area"] == "demo"
    assert c["fixtures"] == ["conn", "fresh_conn_factory"] and c["static_bytes"] == []
    assert cases["demo/test_hs_4_should_fails"]["level"] == "SHOULD"
    assert cases["demo/test_hs_5_flaky[a]"]["param"] == "a"
    assert cases["demo/test_reg_11_uses_a_registry"]["role"] == "client"
    assert cases["demo/test_reg_12_says_client"]["role"] == "client"
    assert cases["demo/test_hs_3_static"]["static_bytes"] == [
        {"hex": "c1", "send": "unspecified", "source": "STATIC_BYTES"},
        {"hex": "92a1", "send": "raw", "source": "STATIC_BYTES"}]
    assert cat["requirements"]["HS-1"]["text"].startswith("Right after a connection")
    assert not (demo / "out" / "report.json").exists()     # nothing ran


def test_catalogue_reads_literal_sends(demo, tmp_path):
    (demo / "cases" / "test_demo.py").write_text(DEMO.replace("STATIC_BYTES", "NOT_USED"))
    path = tmp_path / "cat.json"
    p, _ = run(demo, "--catalogue", str(path), "-k", "static")
    assert p.returncode == 0, p.stderr
    (c,) = json.loads(path.read_text())["cases"]
    assert c["static_bytes"] == [{"hex": "c00000", "send": "raw", "source": "literal"},
                                 {"hex": "c1", "send": "body", "source": "literal"}]


def test_catalogue_of_the_real_cases_matches_the_list():
    p = subprocess.run([sys.executable, CLI, "--catalogue", "-"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    cat = json.loads(p.stdout)
    listing = subprocess.run([sys.executable, CLI, "--list"], capture_output=True, text=True,
                             timeout=120).stdout.splitlines()
    assert cat["count"] == int(listing[-1].split()[0])
    # (Ids may hold spaces: the list separates columns by two.)
    assert len(cat["cases"]) == len(listing) - 1
    assert all(ln.startswith(c["id"] + "  ") for c, ln in zip(cat["cases"], listing))
    for c in cat["cases"]:
        assert c["role"] in ("server", "client") and c["level"] in ("MUST", "SHOULD", "MAY")
        assert c["title"] and c["spec_ids"]
        for s in c["static_bytes"]:
            bytes.fromhex(s["hex"])
    p = subprocess.run([sys.executable, CLI, "--catalogue", "-", "-k", "zzz_no_case"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3 and json.loads(p.stdout)["count"] == 0


def test_cli_passes_the_new_options_on():
    mod = load_script(CLI, "scwire_conform_cli2")
    argv = mod.pytest_argv(mod.parse(["--html", "r.html", "--expect", "k.txt", "--repeat", "3",
                                      "--strict"]))
    pairs = set(zip(argv, argv[1:]))
    for pair in (("--html", "r.html"), ("--expect", "k.txt"), ("--repeat", "3")):
        assert pair in pairs, pair
    assert "--strict" in argv
    cat = mod.pytest_argv(mod.parse(["--catalogue", "-"]))
    assert ("--catalogue", "-") in set(zip(cat, cat[1:])) and "--list" not in cat
    assert ("-p", "no:terminal") in set(zip(cat, cat[1:]))
    p = subprocess.run([sys.executable, CLI, "--version"], capture_output=True, text=True)
    assert p.stdout.strip() == "scwire-conform 0.1.0"
