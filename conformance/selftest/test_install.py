# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-test of `make install`: the installed scwire-conform runs on its own.

Installed, the suite has no source tree around it: it must find its spec text
and its cases under PREFIX/lib/scwire, the scwire-ref on PATH as its default
IUT, and write its reports under the caller's directory.
"""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dest = tmp_path_factory.mktemp("dest")
    p = subprocess.run(["make", "--no-print-directory", "-C", REPO, "install",
                        f"DESTDIR={dest}", "PREFIX=/usr", f"PYTHON={sys.executable}"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return dest / "usr"


def run_installed(prefix, cwd, *args):
    env = dict(os.environ, PATH=f"{prefix / 'bin'}:{os.environ.get('PATH', '')}")
    return subprocess.run([str(prefix / "bin" / "scwire-conform"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_installed_suite_lists_its_cases(installed, tmp_path):
    p = run_installed(installed, tmp_path, "--list")
    assert p.returncode == 0, p.stderr
    assert "HS-5" in p.stdout


def test_installed_suite_runs_against_the_installed_runtime(installed, tmp_path):
    p = run_installed(installed, tmp_path, "--section", "HS-5", "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    report = tmp_path / "scwire-conformance" / "report.json"
    assert report.exists(), "reports go under the caller's directory when installed"
    doc = json.loads(report.read_text())
    assert doc["iut"]["cmd"].startswith(str(installed / "bin" / "scwire-ref") + " ")
    assert doc["summary"]["pass"] == doc["summary"]["total"] > 0


def test_installed_suite_replays_its_own_recordings(installed, tmp_path):
    p = run_installed(installed, tmp_path, "-k", "replay and c_rpc_return", "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads((tmp_path / "scwire-conformance" / "report.json").read_text())
    assert [c["verdict"] for c in doc["cases"]] == ["PASS"], doc["cases"]


def test_installed_netfuzz_attacks_the_installed_runtime(installed, tmp_path):
    env = dict(os.environ, PATH=f"{installed / 'bin'}:{os.environ.get('PATH', '')}")
    p = subprocess.run([str(installed / "bin" / "scwire-netfuzz"), "--cases", "5",
                        "--out", str(tmp_path / "nf")], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert str(installed / "bin" / "scwire-ref") in p.stdout
