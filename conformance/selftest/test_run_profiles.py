# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of conformance/interop/run-profiles, the suite against tractor under
both profiles: the SKIP without tractor (as on CI), and the two promises it
checks, judged on made-up reports.  The suite itself never runs here."""
import json
import os
import subprocess
import sys

import pytest

from scripts import load_script

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(os.path.dirname(HERE), "interop", "run-profiles")


rp = load_script(RUNNER, "run_profiles")


def run(*args, env_tractor=""):
    env = dict(os.environ, SCWIRE_TRACTOR_PYTHONPATH=env_tractor)
    return subprocess.run([sys.executable, RUNNER, *args], capture_output=True, text=True,
                          env=env, timeout=120, stdin=subprocess.DEVNULL)


def violation(robustness, level="MUST", ids=("CID-1",)):
    return {"level": level, "spec_ids": list(ids), "msg": "m", "robustness": robustness}


def case(cid, verdict, obs="[MUST CID-1] observed x", violations=()):
    return {"id": cid, "verdict": verdict, "observation": obs, "violations": list(violations)}


def report(*cases):
    summary = {"total": len(cases)}
    for v in ("PASS", "FAIL", "NON-STRICT", "INFO", "SKIP", "ERROR"):
        summary[v.lower().replace("-", "_")] = sum(c["verdict"] == v for c in cases)
    return {"summary": summary, "cases": list(cases)}


def test_without_tractor_it_skips_with_the_reason_and_exits_0(tmp_path):
    if rp.impls.tractor_available("")[0]:
        pytest.skip("tractor is importable without SCWIRE_TRACTOR_PYTHONPATH here")
    p = run("--out", str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SKIP: tractor is not importable" in p.stdout
    assert not (tmp_path / "tractor").exists()


def test_only_fails_with_a_robustness_failure_keep_the_tractor_promise():
    r = report(case("a", "FAIL", violations=[violation(True)]),
               case("b", "FAIL", violations=[violation(True), violation(False)]),
               case("c", "FAIL", violations=[violation(False, level="SHOULD")]),
               case("d", "NON-STRICT", violations=[violation(False, level="SHOULD")]),
               case("e", "PASS"))
    assert [c["id"] for c in rp.tractor_promise_breaks(r)] == ["c"]


def test_a_strict_fail_must_name_its_ids_and_tractors_way_when_only_strict_fails():
    tractor = report(case("kept", "FAIL", violations=[violation(True)]),
                     case("excused", "NON-STRICT"), case("named", "NON-STRICT"))
    strict = report(case("kept", "FAIL", violations=[violation(True)]),
                    case("excused", "FAIL", violations=[violation(False)]),
                    case("named", "FAIL", obs="[MUST CID-1] x [tractor 0.1.0a4 differs here: y]"),
                    case("bare", "FAIL", obs="Traceback ..."))
    breaks = {c["id"]: why for c, why in rp.strict_promise_breaks(strict, tractor)}
    assert set(breaks) == {"excused", "bare"}
    assert "[MUST ids]" in breaks["bare"] and "tractor 0.1.0a4" in breaks["excused"]


def test_from_reports_writes_the_table_and_exits_1_on_a_broken_promise(tmp_path):
    for profile, r in {"tractor": report(case("x", "FAIL", violations=[violation(False)])),
                       "strict": report(case("x", "FAIL"))}.items():
        (tmp_path / profile).mkdir()
        (tmp_path / profile / "report.json").write_text(json.dumps(r))
    p = run("--from-reports", "--out", str(tmp_path))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "tractor profile: x FAILs on ordinary behaviour" in p.stdout
    table = (tmp_path / "profiles.md").read_text()
    assert "| `--expect-profile tractor` | 0 | 1 | 0 |" in table
    assert json.loads((tmp_path / "profiles.json").read_text())["exit_status"] == 1


def test_a_missing_report_is_exit_2_naming_the_file(tmp_path):
    p = run("--from-reports", "--out", str(tmp_path))
    assert p.returncode == 2
    assert "no report of the tractor run" in p.stderr
