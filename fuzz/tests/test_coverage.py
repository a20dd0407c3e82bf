# SPDX-License-Identifier: AGPL-3.0-or-later
"""fuzz/coverage.sh and blind-spots.py: the coverage report of the fuzz
corpora names what the inputs reached and what they never did."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(ROOT, "fuzz")
_spec = importlib.util.spec_from_file_location("blind_spots", os.path.join(FUZZ, "blind-spots.py"))
blind_spots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(blind_spots)


def fn(name, count, line, path="ref/src/x.c"):
    return {"name": name, "count": count, "filenames": [path], "regions": [[line, 1, line + 2, 1, count, 0, 0, 0]]}


def test_blind_spots_lists_functions_no_binary_ran():
    export = {"data": [
        {"functions": [fn("x.c:helper", 0, 10), fn("sc_used", 0, 20), fn("sc_never", 0, 30)]},
        {"functions": [fn("x.c:helper", 0, 10), fn("sc_used", 4, 20), fn("sc_never", 0, 30)]},
    ]}
    assert blind_spots.blind_spots(export) == [("ref/src/x.c", 10, "helper"), ("ref/src/x.c", 30, "sc_never")]


def test_blind_spots_prints_file_line_function(tmp_path, capsys):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"data": [{"functions": [fn("sc_never", 0, 7)]}]}))
    assert blind_spots.main(["blind-spots.py", str(path)]) == 0
    assert capsys.readouterr().out == "ref/src/x.c:7 sc_never\n"


def have_tools():
    tools = ("clang", "llvm-profdata", "llvm-cov")
    return all(shutil.which(t) or shutil.which(t + "-14") for t in tools)


@pytest.mark.skipif(not have_tools(), reason="clang and llvm are not installed (tools/install-deps --fuzz)")
def test_coverage_sh_reports_the_registry_target(tmp_path):
    # One fuzz_registry input from an extra corpus: put ("a", uuid), find "a".
    extra = tmp_path / "extra" / "fuzz_registry"
    extra.mkdir(parents=True)
    (extra / "put-find").write_bytes(bytes([3, 0, 0, 8, 7, 0x50, 0x06, 2, 0]))
    env = dict(os.environ, OUT=str(tmp_path / "out"), COV_OUT=str(tmp_path / "cov"),
               CORPUS_DIRS=str(tmp_path / "extra"), PYTHON=sys.executable)
    run = subprocess.run(["nice", "-n", "19", "sh", os.path.join(FUZZ, "coverage.sh"), "fuzz_registry"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    cov = tmp_path / "cov"
    rows = {line.split()[0]: line.split() for line in (cov / "summary.txt").read_text().splitlines()
            if line.endswith("%") and line.split()[0].endswith(".c")}
    # The registry ran; the actor was linked in but never called.
    assert float(rows["registry.c"][9].rstrip("%")) > 0
    assert float(rows["actor.c"][9].rstrip("%")) == 0
    assert (cov / "summary-fuzz_registry.txt").read_text() == (cov / "summary.txt").read_text()
    spots = (cov / "blind-spots.txt").read_text().splitlines()
    names = {line.split()[1] for line in spots}
    assert "sc_actor_new" in names
    assert not names & {"sc_registry_put", "sc_registry_find"}
    assert all(":" in line.split()[0] for line in spots)
    assert (cov / "html" / "index.html").is_file()
    assert "fuzz_registry over 1 inputs" in run.stdout


def test_coverage_sh_refuses_to_report_without_llvm(tmp_path):
    # A PATH with what the script needs before it looks for llvm, and no llvm.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("dirname"), bindir / "dirname")
    env = {k: v for k, v in os.environ.items() if k not in ("LLVM_PROFDATA", "LLVM_COV")}
    env.update(OUT=str(tmp_path / "out"), COV_OUT=str(tmp_path / "cov"), PATH=str(bindir))
    run = subprocess.run(["/bin/sh", os.path.join(FUZZ, "coverage.sh"), "fuzz_registry"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "llvm-profdata not found" in run.stderr
    assert not (tmp_path / "cov").exists()
