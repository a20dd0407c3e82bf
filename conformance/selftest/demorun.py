# SPDX-License-Identifier: AGPL-3.0-or-later
"""Running a demo case file under the real conftest, against the fake IUT.

The self-tests write their demo cases at run time (so that spec-trace does not
take the demo's ids for real claims) and run them with pytest as the CLI
would, collecting the process result and the JSON report.
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONFORMANCE = os.path.dirname(HERE)
FAKE = (f"{sys.executable} {os.path.join(HERE, 'fakeiut.py')} "
        "--listen {host}:{port} --codec {codec}")


def write_demo(tmp_path, source):
    """tmp_path/cases with the suite's conftest and `source` as test_demo.py."""
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(os.path.join(CONFORMANCE, "cases", "conftest.py"), cases)
    (cases / "test_demo.py").write_text(source)
    return tmp_path


def run(demo, *args, iut=FAKE, timeout=120, cases=None):
    """(CompletedProcess, report dict or None) of a pytest run over the demo, or
    over the directory `cases` (the suite's own) with its output under demo."""
    out = demo / "out"
    cmd = [sys.executable, "-m", "pytest", cases or str(demo / "cases"), "-c",
           os.path.join(CONFORMANCE, "pytest.ini"),
           "--rootdir", os.path.dirname(cases) if cases else str(demo),
           "-p", "no:cacheprovider", "-q", "--iut-cmd", iut, "--out", str(out), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    rep = None
    if (out / "report.json").exists():
        rep = json.loads((out / "report.json").read_text())
    return p, rep
