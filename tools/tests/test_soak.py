# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests of scwire-soak (build/soak/scwire-soak), the load-and-chaos driver.

Against a fake IUT (soak_fake_iut.py) that injects one fault on demand, the
driver must report exactly that fault and exit 1: so its checks can fail.
Against the reference runtime it must hold a short run with chaos and exit
0.  Plus its command line: usage errors exit 2, and so does a descriptor
limit too low for the connections asked for.  Every run is bounded by its
--seconds and --timeout and by `timeout=` here.
"""
import os
import resource
import signal
import subprocess
import threading

import pytest

from toolenv import REF, REPO, TESTS, Server

SOAK = os.path.join(REPO, "build", "soak", "scwire-soak")
FAKE = os.path.join(TESTS, "soak_fake_iut.py")
PYTHON = "/usr/bin/python3"


def server(cmd):
    if not os.access(SOAK, os.X_OK):
        pytest.fail(f"{SOAK} is missing: run `make {os.path.relpath(SOAK, REPO)}`")
    return Server(cmd)


@pytest.fixture
def fake():
    servers = []

    def start(*flags):
        s = server([PYTHON, FAKE, *map(str, flags)])
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def ref():
    s = server([REF, "--listen", "127.0.0.1:0"])
    yield s
    s.stop()


def soak(*args, timeout=60, preexec_fn=None):
    r = subprocess.run([SOAK, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       preexec_fn=preexec_fn)
    report = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    return r, report


SMALL = ("--conns", 3, "--messages", 40, "--stream-n", 16, "--seconds", 20, "--timeout", 5)


def test_clean_run_against_the_fake_passes(fake):
    s = fake()
    r, rep = soak("--addr", s.addr, *SMALL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rep["lost"] == "0" and rep["duplicated"] == "0" and rep["reordered"] == "0"
    assert rep["echo"] == "sent 120, received 120"
    assert rep["stream-out"] == "sent 120, received 120"
    assert rep["connections"].startswith("3 healthy: 3 finished, 0 cancelled")
    assert rep["result"] == "ok"


def test_lenprefix_codec(fake):
    s = fake("--codec", "lenprefix")
    r, rep = soak("--addr", s.addr, "--codec", "lenprefix", *SMALL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rep["messages"] == "240 sent, 240 received"


@pytest.mark.parametrize("fault, line", [
    (("--drop-echo", 5), "lost: 1"),
    (("--drop-out", 3), "lost: 1"),
    (("--swap-echo", 5), "reordered: 1"),
    (("--dup-echo", 5), "duplicated: 1"),
])
def test_one_fault_is_reported_exactly(fake, fault, line):
    s = fake(*fault)
    r, rep = soak("--addr", s.addr, *SMALL)
    assert r.returncode == 1, r.stdout + r.stderr
    assert line in r.stdout.splitlines()
    others = {"lost", "duplicated", "reordered"} - {line.split(":")[0]}
    assert all(rep[k] == "0" for k in others), r.stdout
    assert rep["result"].startswith("FAIL: 1 message(s) ")
    assert "FAIL" in r.stderr


def test_unanswered_stop_is_a_hang(fake):
    s = fake("--ignore-stop")
    r, rep = soak("--addr", s.addr, "--conns", 2, "--messages", 10, "--seconds", 10, "--timeout", 1)
    assert r.returncode == 1
    assert rep["connections"] == "2 healthy: 0 finished, 0 cancelled, 0 closed, 2 hung, 0 failed"
    assert rep["result"] == "FAIL: 2 connection(s) hung"
    assert "still streaming 1 s after the load ended (ctx_echo open and stopped, 10 of 10 echoed" in r.stderr


def test_bytes_after_nil_fail(fake):
    s = fake("--after-nil")
    r, rep = soak("--addr", s.addr, *SMALL)
    assert r.returncode == 1
    assert int(rep["after-nil-bytes"]) > 0 and rep["lost"] == "0"
    assert "arrived after a nil ended the channel" in rep["result"]


def test_channel_closed_under_a_stream_fails(fake):
    s = fake("--close-at", 7)
    r, rep = soak("--addr", s.addr, *SMALL)
    assert r.returncode == 1
    assert rep["connections"] == "3 healthy: 2 finished, 0 cancelled, 1 closed, 0 hung, 0 failed"
    assert "1 connection(s) ended by the IUT (0 cancelled, 1 closed)" in rep["result"]
    assert "the IUT closed the channel with" in r.stderr


def test_unreachable_target_fails(ref):
    port = ref.addr.rsplit(":", 1)[1]
    ref.stop()
    r, rep = soak("--addr", f"127.0.0.1:{port}", "--conns", 2, "--seconds", 2)
    assert r.returncode == 1
    assert rep["connections"].endswith("2 failed")
    assert "Connection refused" in r.stderr


def test_reference_runtime_with_chaos_holds(ref):
    r, rep = soak("--addr", ref.addr, "--conns", 20, "--seconds", 2, "--pid", ref.proc.pid,
                  "--chaos", "drop=20,nonmap=5,truncated=5,unknown-cid=5,garbage=5,half-open=5,reset=5,slowloris=2",
                  "--chaos-hold", 1)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rep["lost"] == "0" and rep["result"] == "ok"
    faults = dict(kv.split("=") for kv in rep["faults"].split())
    asked = ("drop", "nonmap", "truncated", "unknown-cid", "garbage", "half-open", "reset", "slowloris")
    assert all(int(faults[k]) > 0 for k in asked), rep["faults"]
    assert rep["connections"].startswith("20 healthy: 20 finished")
    assert rep["target-fds"].startswith("first ") and "peak" in rep["target-fds"]


def test_the_attacker_mix_leaves_waiters_registrations_and_idle_slots_and_the_bystander_is_timed():
    """--chaos attack against a registry: waiter floods, registration floods and
    idle connections are injected, nothing is lost, and the bystander reports
    how many calls it made and their quantiles."""
    s = server([REF, "--listen", "127.0.0.1:0", "--registry-role"])
    try:
        r, rep = soak("--addr", s.addr, "--conns", 10, "--seconds", 2, "--chaos", "attack",
                      "--flood", 200, "--chaos-hold", 1)
    finally:
        s.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    faults = dict(kv.split("=") for kv in rep["faults"].split())
    assert all(int(faults[k]) > 0 for k in ("waiters", "register", "idle")), rep["faults"]
    calls, _, rest = rep["bystander"].partition(" calls answered, ")
    assert int(calls) > 10 and rest.startswith("p50 ") and " p99 " in rest, rep["bystander"]


def test_a_bystander_that_gets_no_answer_fails_the_run(fake):
    """A target that never answers the bystander's echo (the streams still
    flow): its call goes unanswered, and the run fails saying so."""
    s = fake("--silent-echo")
    r, rep = soak("--addr", s.addr, "--conns", 2, "--seconds", 3, "--timeout", 2)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the bystander's call got no answer" in rep["result"], rep["result"]
    assert "failed: no answer within the timeout" in rep["bystander"], rep["bystander"]


def test_expect_shutdown_without_a_shutdown_fails(ref):
    r, rep = soak("--addr", ref.addr, "--conns", 2, "--seconds", 1, "--expect-shutdown")
    assert r.returncode == 1
    assert rep["result"] == "FAIL: no connection was ended by a shutdown of the IUT"


def test_shutdown_ends_every_connection_with_a_cancel(ref):
    base = len(os.listdir(f"/proc/{ref.proc.pid}/fd"))
    drv = subprocess.Popen([SOAK, "--addr", ref.addr, "--conns", "5", "--seconds", "20", "--timeout", "5",
                            "--expect-shutdown", "--rate", "500"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The streams run once the daemon holds the 5 connections.
        for _ in range(200):
            if len(os.listdir(f"/proc/{ref.proc.pid}/fd")) >= base + 5:
                break
            threading.Event().wait(0.05)
        threading.Event().wait(0.3)
        ref.proc.send_signal(signal.SIGTERM)
        assert ref.proc.wait(5) == 0
        out, err = drv.communicate(timeout=30)
    finally:
        if drv.poll() is None:
            drv.kill()
            drv.communicate(timeout=5)
    rep = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert drv.returncode == 0, out + err
    # A ctx_stream_out whose cmd the daemon had not read yet ends with the
    # channel (closed); the long-lived ctx_echo always gets ContextCancelled.
    ends = dict(kv.split(" ")[::-1] for kv in rep["connections"].split(": ", 1)[1].split(", "))
    assert ends["finished"] == ends["hung"] == ends["failed"] == "0", out
    assert int(ends["cancelled"]) + int(ends["closed"]) == 5
    assert rep["contexts"].startswith("ctx_echo 5 (5 cancelled, 0 cut"), out
    assert rep["lost"] == rep["duplicated"] == rep["reordered"] == rep["after-nil-bytes"] == "0"


@pytest.mark.parametrize("args, words", [
    ((), "--addr HOST:PORT is required"),
    (("--addr", "127.0.0.1:1", "--codec", "json"), "--codec is msgpack or lenprefix"),
    (("--addr", "127.0.0.1:1", "--conns", "0"), "--conns wants a number"),
    (("--addr", "127.0.0.1:1", "--chaos", "flood=3"), "unknown kind 'flood'"),
    (("--addr", "127.0.0.1:1", "--chaos", "drop"), "is not KIND=RATE"),
    (("--addr", "localhost:1"), "not an IPv4 address"),
    (("--addr", "127.0.0.1:1", "extra"), "unexpected argument 'extra'"),
    (("--addr", "127.0.0.1:1", "--bogus"), "unknown option '--bogus'"),
    (("--addr", "127.0.0.1:1", "--conns"), "option '--conns' needs a value"),
    (("--addr", "127.0.0.1:1", "--help=x"), "option '--help=x' takes no value"),
])
def test_usage_errors_exit_2(args, words):
    r, _ = soak(*args)
    assert r.returncode == 2
    assert words in r.stderr
    assert r.stdout == ""


def test_help_exits_0():
    r, _ = soak("--help")
    assert r.returncode == 0 and "--expect-shutdown" in r.stdout


def test_descriptor_limit_too_low_is_said_and_exits_2():
    def low():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    r, _ = soak("--addr", "127.0.0.1:1", "--conns", 100, preexec_fn=low)
    assert r.returncode == 2
    assert "the descriptor limit is 64" in r.stderr and "fewer --conns" in r.stderr


RUN_SOAK = os.path.join(REPO, "tools", "soak", "run-soak")


def test_run_soak_without_its_binaries_exits_2(tmp_path):
    r = subprocess.run([PYTHON, RUN_SOAK, "--build", str(tmp_path), "--seconds", "1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "scwire-ref is missing" in r.stderr


def test_run_soak_usage_error_exits_2():
    r = subprocess.run([PYTHON, RUN_SOAK, "--conns", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "--conns" in r.stderr


def run_soak(*args, timeout=240):
    return subprocess.run([PYTHON, RUN_SOAK, "--seconds", "2", "--warmup", "1", "--conns", "5",
                           "--attack-seconds", "1", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_run_soak_starts_the_iut_from_a_command_template():
    r = run_soak("--iut-cmd", f"{REF} --listen {{host}}:{{port}} --codec {{codec}} "
                              f"--max-conns 400")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "soak: PASS" in r.stdout and "daemon: idle fds" in r.stdout


def test_run_soak_attached_skips_what_it_cannot_observe(ref):
    r = run_soak("--iut-addr", ref.addr)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "SKIP: leak check: the IUT is attached" in r.stdout
    assert "shutdown: SKIP: the IUT is attached" in r.stdout
    assert "soak: PASS" in r.stdout


@pytest.mark.parametrize("args, words", [
    (("--iut-addr", "127.0.0.1:1", "--iut-netns", "x"), "--iut-netns starts the IUT"),
    (("--iut-addr", "nowhere"), "--iut-addr"),
    (("--iut-addr", "127.0.0.1:1", "--iut-cmd", "x"), "not allowed with argument"),
])
def test_run_soak_iut_usage_errors_exit_2(args, words):
    r = subprocess.run([PYTHON, RUN_SOAK, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and words in r.stderr, r.stderr


def test_run_soak_bad_template_fails_naming_it():
    r = run_soak("--iut-cmd", f"{REF} --listen {{host}}:{{port}} --x {{nope}}")
    assert r.returncode == 1 and "unsupported placeholder {nope}" in r.stdout, r.stdout


def test_the_driver_says_once_when_every_healthy_connection_is_up(ref):
    r, rep = soak("--addr", ref.addr, *SMALL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr.count("scwire-soak: all 3 healthy connections are up\n") == 1, r.stderr
