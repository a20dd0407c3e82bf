# SPDX-License-Identifier: AGPL-3.0-or-later
"""The suite can fail: a copy of the reference runtime built with its overrun
errors removed must be caught by the overrun cases (OVR-2), and the run must
exit 1, while the same cases pass against the unchanged runtime."""
import json
import os
import shutil
import subprocess
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(TOP, "conformance", "scwire-conform")
REF_SRC = os.path.join(TOP, "ref", "src")
# The line that answers a message dropped for want of room with StreamOverrun.
OVERRUN_CALL = "if (outcome == SC_PUSH_OVERRUN) {\n        send_overrun(a, c, t);"


def build_broken_runtime(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REF_SRC, src)
    actor = src / "actor.c"
    text = actor.read_text()
    assert text.count(OVERRUN_CALL) == 1, "the overrun call moved: update this test"
    actor.write_text(text.replace(OVERRUN_CALL, "if (outcome == SC_PUSH_OVERRUN) {\n        (void)t;"))
    exe = tmp_path / "scwire-ref-broken"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "msgpack"], capture_output=True,
                           text=True).stdout.split() or ["-lmsgpackc"]
    cmd = ["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE", "-O0",
           f"-I{src}", "-o", str(exe), *sorted(str(p) for p in src.glob("*.c")),
           "-lev", *flags, "-lm"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.fail(f"cannot build the broken runtime:\n{out.stderr[-2000:]}")
    return exe


def run_overrun_cases(exe, out_dir):
    report = out_dir / "report.json"
    # Short waits: against the broken runtime every expected error times out.
    proc = subprocess.run(
        [sys.executable, CLI, "--iut-cmd", f"{exe} --listen {{host}}:{{port}} --codec {{codec}}",
         "--section", "OVR-2", "-k", "not chop", "--timeout", "1", "--out", str(out_dir),
         "--json", str(report), "-q"],
        capture_output=True, text=True, timeout=600)
    return proc, json.loads(report.read_text())


def test_suite_fails_a_runtime_without_overrun_errors(tmp_path):
    exe = build_broken_runtime(tmp_path)
    proc, report = run_overrun_cases(exe, tmp_path / "broken")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    failed = [c["id"] for c in report["cases"] if c["verdict"] == "FAIL"]
    assert any("test_ovr_2" in case for case in failed), failed


def test_the_same_cases_pass_against_the_unchanged_runtime(tmp_path):
    exe = os.path.join(TOP, "build", "scwire-ref")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} is missing: run make first")
    proc, report = run_overrun_cases(exe, tmp_path / "good")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert report["cases"] and all(c["verdict"] == "PASS" for c in report["cases"])
