# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the scwire-conform command line (no IUT needed)."""
import json
import os
import subprocess
import sys

import pytest

from scripts import load_script

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(os.path.dirname(HERE), "scwire-conform")


def load_cli():
    return load_script(CLI, "scwire_conform_cli")


def test_options_become_pytest_arguments():
    cli = load_cli()
    argv = cli.pytest_argv(cli.parse(["--codec", "lenprefix", "--strict", "--section", "HS",
                                      "--section", "FRAME-8", "-k", "uid", "--iut-addr",
                                      "h:1", "--json", "r.json", "--junit", "j.xml", "--",
                                      "-x"]))
    assert argv[0].endswith(os.path.join("conformance", "cases"))
    pairs = set(zip(argv, argv[1:]))
    for pair in (("--codec", "lenprefix"), ("--section", "HS"), ("--section", "FRAME-8"),
                 ("-k", "uid"), ("--iut-addr", "h:1"), ("--json", "r.json"),
                 ("--junit", "j.xml"), ("-p", "no:cacheprovider")):
        assert pair in pairs, pair
    assert "--strict" in argv and argv[-1] == "-x"
    listing = cli.pytest_argv(cli.parse(["--list"]))
    assert "--list" in listing and ("-p", "no:terminal") in set(zip(listing, listing[1:]))


CASE_OPTIONS = ["--expect-profile", "tractor", "--vectors", "/v", "--dump-sent", "/d",
                "--chop-variants", "off", "--chop-pause", "0.5", "--chop-pause-share", "0.25"]


def test_case_options_are_passed_on():
    cli = load_cli()
    argv = cli.pytest_argv(cli.parse(["--iut-registry", *CASE_OPTIONS]))
    pairs = set(zip(argv, argv[1:]))
    for pair in zip(CASE_OPTIONS[::2], CASE_OPTIONS[1::2]):
        assert pair in pairs, pair
    assert "--iut-registry" in argv
    assert "--iut-registry" not in cli.pytest_argv(cli.parse([]))


def test_case_options_are_accepted_by_the_cases():
    # The options only exist once the cases' conftest is loaded: a listing
    # that takes them proves the names match.
    p = run("--list", "--iut-registry", *CASE_OPTIONS)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip()


def run(*args):
    return subprocess.run([sys.executable, CLI, *args], capture_output=True, text=True,
                          timeout=60)


def test_list_names_every_case_with_ids_and_title():
    p = run("--list")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[-1].endswith(" cases") and int(lines[-1].split()[0]) == len(lines) - 1
    first = lines[0].split()
    assert "/" in first[0] and first[0].split("/")[1].startswith("test_")
    assert any(line.startswith("handshake/test_hs_1_uid_sent_first ") and " HS-1 " in line
               for line in lines)


def test_empty_selection_is_an_error_not_a_pass():
    p = run("--list", "-k", "no_case_is_called_this")
    assert p.returncode == 3 and "no case" in p.stderr
    p = run("--section", "NOSUCHAREA")
    assert p.returncode == 3


def test_jobs_are_one_when_an_iut_cannot_be_had_twice():
    cli = load_cli()
    assert cli.jobs_of(cli.parse(["--jobs", "3"])) == 3
    assert cli.jobs_of(cli.parse(["--jobs", "3", "--iut-addr", "h:1"])) == 1
    assert cli.jobs_of(cli.parse(["--jobs", "3", "--iut-port", "7000"])) == 1
    assert cli.jobs_of(cli.parse(["--jobs", "3", "--list"])) == 1
    assert 1 <= cli.jobs_of(cli.parse([])) <= cli.MAX_AUTO_JOBS


def run_cli(tmp_path, name, *args):
    out = tmp_path / name
    p = subprocess.run([sys.executable, CLI, "--out", str(out), *args], capture_output=True,
                       text=True, timeout=300)
    rep = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() \
        else None
    return p, rep


def test_a_split_run_gives_the_verdicts_order_and_reports_of_one_process(tmp_path):
    ref = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "scwire-ref")
    if not os.access(ref, os.X_OK):
        pytest.fail(f"{ref} is missing: run make first")
    sel = ["-k", "(rpc and echo) or test_frame_1_duplicate or codec", "-q"]
    p1, one = run_cli(tmp_path, "one", "--jobs", "1", *sel)
    p3, split = run_cli(tmp_path, "split", "--jobs", "3", *sel)
    assert p1.returncode == p3.returncode == 0, p3.stdout + p3.stderr
    assert [(c["id"], c["verdict"]) for c in split["cases"]] == \
        [(c["id"], c["verdict"]) for c in one["cases"]]
    assert split["summary"] == one["summary"] and split["shards"] == 3
    # Each case ran in exactly one shard.
    per_shard = [[c["id"] for c in json.loads((tmp_path / "split" / "shards" / str(k) /
                                               "report.json").read_text())["cases"]]
                 for k in range(3)]
    assert sorted(sum(per_shard, [])) == sorted(c["id"] for c in one["cases"])
    assert all(per_shard)
    assert len(split["iut"]["pids"]) >= 3
    assert (tmp_path / "split" / "junit.xml").exists()
    page = (tmp_path / "split" / "report.html").read_text(encoding="utf-8")
    assert page.count('<details class="case') == len(split["cases"])
    assert "TOTAL" in p3.stdout and "exit 0 (no failures)" in p3.stdout
