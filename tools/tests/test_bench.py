# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of run-bench's publishing step: a benchmark run writes under build/,
and only `--publish` copies its summary into the tracked results."""
import json
import os
import subprocess
import sys

from toolenv import TOOLS

RUN_BENCH = os.path.join(TOOLS, "bench", "run-bench")


def publish(out, dest):
    return subprocess.run([sys.executable, RUN_BENCH, "--publish", "--out", str(out),
                           "--publish-to", str(dest)], capture_output=True, text=True,
                          timeout=60)


def test_publish_copies_the_summary_and_its_json_and_drops_the_old_json(tmp_path):
    out, dest = tmp_path / "results", tmp_path / "published"
    out.mkdir()
    dest.mkdir()
    (dest / "2000-01-01-old.json").write_text("{}\n")
    (out / "2026-01-02-box.json").write_text(json.dumps({"duration_s": 1}) + "\n")
    (out / "README.md").write_text("figures in [`2026-01-02-box.json`](2026-01-02-box.json).\n")
    r = publish(out, dest)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(dest)) == ["2026-01-02-box.json", "README.md"]
    assert (dest / "README.md").read_text() == (out / "README.md").read_text()


def test_publish_without_a_run_says_what_to_do(tmp_path):
    r = publish(tmp_path / "none", tmp_path / "published")
    assert r.returncode == 2
    assert "run `make bench` first" in r.stderr
    assert not (tmp_path / "published").exists()


def test_publish_refuses_a_summary_whose_json_is_missing(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "README.md").write_text("figures in [`gone.json`](gone.json).\n")
    r = publish(out, tmp_path / "published")
    assert r.returncode == 2
    assert "links to no JSON file" in r.stderr


def test_the_default_results_directory_is_under_build():
    r = subprocess.run([sys.executable, RUN_BENCH, "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0
    assert "(default build/bench/results)" in " ".join(r.stdout.split())
