# SPDX-License-Identifier: AGPL-3.0-or-later
"""The CI template for implementers (conformance/ci/github-workflow.yml) does what
it says: its `run:` steps are taken from the YAML and run as they are, in
order, with the workflow's env, in a workspace laid out as its checkout steps
leave it (the implementation's checkout, the suite in `scwire/`).

What GitHub provides is stood in for: `scwire/` is this repository; `sudo` runs
its command as it is, and `apt-get` checks that the packages named are
installed instead of installing them.  The reference runtime stands for the
implementation, with a few cases selected; a deliberately incomplete IUT
(selftest/fakeiut.py) shows that a failure fails the job and that the baseline
(`IUT_EXPECT`) holds it.
"""
import json
import os
import shlex
import subprocess
import xml.etree.ElementTree as ET

import pytest

yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed (make deps)")

HERE = os.path.dirname(os.path.abspath(__file__))
CONFORMANCE = os.path.dirname(HERE)
REPO = os.path.dirname(CONFORMANCE)
WORKFLOW = os.path.join(CONFORMANCE, "ci", "github-workflow.yml")
REF = os.path.join(REPO, "build", "scwire-ref")
FAKE = os.path.join(HERE, "fakeiut.py")
STEP_TIMEOUT = 300
# A selection that fakeiut.py fails (it has no sleep_forever) and scwire-ref passes.
FAILING = "rpc/test_svc_11_sleep_forever_silent_until_cancelled"
SELECT = "-j 1 --section SVC-11 --chop-variants off"

SUDO = "#!/bin/sh\n# stands for sudo: the command as it is\nexec \"$@\"\n"
APT_GET = """#!/bin/sh
# stands for apt-get: `update` does nothing, `install` checks that the packages
# named are installed, and anything else is refused
case "$1" in
update) exit 0 ;;
install) shift ;;
*) echo "apt-get stand-in: unexpected '$1'" >&2; exit 2 ;;
esac
for p in "$@"; do
    case "$p" in -*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
        echo "apt-get stand-in: $p is not installed" >&2; exit 100; }
done
"""


def workflow():
    with open(WORKFLOW, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def steps():
    return workflow()["jobs"]["conformance"]["steps"]


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    (ws / "ci").mkdir(parents=True)
    os.symlink(REPO, ws / "scwire")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, text in (("sudo", SUDO), ("apt-get", APT_GET)):
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    return ws, stubs


def run_steps(ws, stubs, **env_over):
    """Every `run:` step in order, as GitHub runs them (bash -eo pipefail), until
    one fails; [(name, CompletedProcess)]."""
    env = dict(os.environ)
    env.update({k: str(v) for k, v in workflow()["env"].items()})
    env.update(env_over)
    env["PATH"] = f"{stubs}:{env['PATH']}"
    done = []
    for step in steps():
        if "run" not in step:
            continue
        p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                            step["run"]], cwd=ws, env=env, capture_output=True, text=True,
                           timeout=STEP_TIMEOUT)
        done.append((step["name"], p))
        if p.returncode != 0:
            break
    return done


def iut_env(ws, iut_cmd, expect_lines=()):
    (ws / "ci" / "scwire.caps").write_text("# capabilities declared\n")
    (ws / "ci" / "scwire.known").write_text(
        "# known deviations\n" + "".join(f"{line}\n" for line in expect_lines))
    return {"IUT_BUILD": f"make --no-print-directory -s -C {shlex.quote(REPO)} build/scwire-ref",
            "IUT_CMD": iut_cmd, "SCWIRE_SELECT": SELECT}


def test_template_passes_against_the_reference_runtime(workspace):
    ws, stubs = workspace
    done = run_steps(ws, stubs, **iut_env(ws, f"{REF} --listen {{host}}:{{port}} "
                                              f"--codec {{codec}}"))
    names = [n for n, _ in done]
    assert names == [s["name"] for s in steps() if "run" in s], names
    for name, p in done:
        assert p.returncode == 0, f"{name}: {p.returncode}\n{p.stdout[-2000:]}{p.stderr[-2000:]}"
    report = json.loads((ws / "scwire-report" / "report.json").read_text())
    assert report["exit_status"] == 0 and report["summary"]["pass"] > 0
    suites = ET.parse(ws / "scwire-report" / "junit.xml").getroot()
    assert len(suites.findall(".//testcase")) == report["summary"]["total"]
    assert (ws / "scwire-report" / "report.html").stat().st_size > 0


def test_a_failure_fails_the_job_and_the_baseline_holds_it(workspace):
    ws, stubs = workspace
    fake = f"/usr/bin/python3 {FAKE} --listen {{host}}:{{port}} --codec {{codec}}"
    done = run_steps(ws, stubs, **iut_env(ws, fake))
    name, p = done[-1]
    assert name == "Run the conformance suite" and p.returncode == 1, p.stdout[-2000:]
    report = json.loads((ws / "scwire-report" / "report.json").read_text())
    assert any(c["verdict"] == "FAIL" and c["id"].startswith(FAILING)
               for c in report["cases"])

    done = run_steps(ws, stubs, **iut_env(ws, fake, [f"{FAILING}\thas no sleep_forever"]))
    assert all(p.returncode == 0 for _, p in done), done[-1][1].stdout[-2000:]
    report = json.loads((ws / "scwire-report" / "report.json").read_text())
    assert {c["verdict"] for c in report["cases"]} <= {"XFAIL", "PASS", "SKIP"}
    assert any(c["verdict"] == "XFAIL" for c in report["cases"])
    xfail = ET.parse(ws / "scwire-report" / "junit.xml").getroot().findall(
        ".//skipped[@type='XFAIL']")
    assert xfail


def test_the_publishing_steps_take_what_the_suite_writes():
    by_name = {s["name"]: s for s in steps()}
    run = by_name["Run the conformance suite"]["run"]
    words = shlex.split(run.replace("\\\n", " "))
    junit = words[words.index("--junit") + 1]
    out = words[words.index("--out") + 1]
    publish = by_name["Publish the verdicts"]
    keep = by_name["Keep the HTML report"]
    assert publish["uses"].startswith("mikepenz/action-junit-report@")
    assert publish["with"]["report_paths"] == junit
    assert keep["uses"].startswith("actions/upload-artifact@")
    assert keep["with"]["path"].rstrip("/") == out
    # Both run after a failed suite too: that is when they matter.
    assert publish["if"] == "always()" and keep["if"] == "always()"
    suite = by_name["Check out the scwire suite"]
    assert suite["with"]["path"] == "scwire" and "scwire/conformance/scwire-conform" in run


def test_every_env_value_is_documented_in_the_header():
    with open(WORKFLOW, encoding="utf-8") as fh:
        header = "".join(line for line in fh if line.startswith("#"))
    for key in workflow()["env"]:
        assert key in header, f"{key} is not explained in the template's header"
