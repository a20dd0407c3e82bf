# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the tractor adapter's files (conformance/iut/tractor) that need no
tractor: every Python file parses, and the child wrapper (child.py) and the shim
tractor runs in place of Python (child-shim) refuse bad arguments with a clear
message and status 2, the shim handing its arguments on unchanged.  The one test
that plays a parent to a real tractor child is skipped with the reason "tractor
is not importable" when it is not, as on CI.
"""
import ast
import os
import shlex
import socket
import subprocess
import sys

import pytest

from scwire_conform import msgs
from scwire_conform.codec import MSGPACK
from scwire_conform.wire import Conn
from scwire_conform.wirelog import WireLog

ADAPTER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "iut", "tractor")
CHILD = os.path.join(ADAPTER, "child.py")
SHIM = os.path.join(ADAPTER, "child-shim")
UID = "('kid', '5f1c1d7e-3c57-4c8e-9f7b-0d6b1c2f9a10')"
PARENT = "('127.0.0.1', 9)"


def run(argv, env=None):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def tractor_missing():
    p = run([sys.executable, "-W", "ignore", "-c", "import tractor, trio"])
    return p.returncode != 0


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(ADAPTER) if f.endswith(".py")))
def test_python_files_parse(name):
    with open(os.path.join(ADAPTER, name), encoding="utf-8") as fh:
        ast.parse(fh.read(), filename=name)


@pytest.mark.parametrize("args,says", [
    ([], "the following arguments are required: --uid, --parent_addr"),
    (["--uid", "kid", "--parent_addr", PARENT], "argument --uid: not a uid ('name', 'uuid')"),
    (["--uid", "('kid', 5)", "--parent_addr", PARENT], "argument --uid: not a uid"),
    (["--uid", UID, "--parent_addr", "127.0.0.1:9"],
     "argument --parent_addr: not an address ('host', port)"),
    (["--uid", UID, "--parent_addr", "('127.0.0.1', 0)"], "argument --parent_addr"),
    (["--codec", "json", "--uid", UID, "--parent_addr", PARENT], "argument --codec"),
], ids=["nothing", "uid-word", "uid-int-uuid", "addr-host-port", "addr-port-0", "codec"])
def test_child_refuses_bad_arguments(args, says):
    p = run([sys.executable, CHILD, *args])
    assert p.returncode == 2, p.stderr
    assert "child.py: error:" in p.stderr and says in p.stderr, p.stderr


def test_child_says_when_tractor_is_missing():
    if not tractor_missing():
        pytest.skip("tractor is importable here")
    p = run([sys.executable, CHILD, "--uid", UID, "--parent_addr", PARENT])
    assert p.returncode == 2 and "child.py: tractor is not importable" in p.stderr, p.stderr


@pytest.mark.parametrize("args", [[], ["--uid", UID], ["-m", "tractor._other", "--uid", UID],
                                  ["-c", "print(1)"]],
                         ids=["nothing", "no-module", "other-module", "python-c"])
def test_shim_refuses_what_is_not_a_tractor_child_command(args):
    p = run([SHIM, *args])
    assert p.returncode == 2, p.stderr
    assert "child-shim: expected tractor's child command line" in p.stderr, p.stderr


def test_shim_hands_the_arguments_to_the_child_command_unchanged():
    show = f"{shlex.quote(sys.executable)} -c 'import sys; print(repr(sys.argv[1:]))' --codec x"
    tail = ["--uid", "('a b', 'u')", "--parent_addr", PARENT, "--loglevel", "ERROR"]
    p = run([SHIM, "-m", "tractor._child", *tail], env={"SCWIRE_TRACTOR_CHILD_CMD": show})
    assert p.returncode == 0, p.stderr
    assert ast.literal_eval(p.stdout.strip()) == ["--codec", "x", *tail]


def test_shim_needs_the_interpreter_of_the_tractor_children():
    env = {"SCWIRE_TRACTOR_CHILD_CMD": "", "SCWIRE_TRACTOR_PYTHON": ""}
    p = run([SHIM, "-m", "tractor._child", "--uid", UID, "--parent_addr", PARENT], env=env)
    assert p.returncode == 2 and "SCWIRE_TRACTOR_PYTHON" in p.stderr, p.stderr


def test_a_tractor_child_reports_its_init_map_as_received():
    """child.py under a parent played here: it handshakes with its --uid, takes the
    init map (an unknown key included) and returns it unchanged from spawn_info."""
    if tractor_missing():
        pytest.skip("tractor is not importable")
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, CHILD, "--uid", UID,
                             "--parent_addr", f"('127.0.0.1', {port})"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lsock.settimeout(20)
        chan = Conn(lsock.accept()[0], MSGPACK, log=WireLog(), timeout=10, accepted=True)
        assert msgs.same(chan.recv_uid(), list(ast.literal_eval(UID)))
        parent = ("parent", "0b6a0c8e-6f5e-4d3c-9a1b-2c3d4e5f6a7b")
        chan.send_uid(*parent)
        init = {"_parent_main_data": {}, "enable_modules": {"scwire_service": "scwire_service"},
                "_arb_addr": ["127.0.0.1", port], "bind_host": "127.0.0.1", "bind_port": 0,
                "_runtime_vars": {"_debug_mode": False, "_is_root": False,
                                  "_root_mailbox": ["127.0.0.1", port]},
                "_unknown": [1, "x"]}
        chan.send(init)
        registry = Conn(lsock.accept()[0], MSGPACK, log=WireLog(), timeout=10, accepted=True)
        registry.send_uid(*parent)
        registry.recv_uid()
        cid = registry.recv()["cmd"][4]           # register_actor: answered, so it serves
        registry.send_many([{"functype": "asyncfunc", "cid": cid}, {"return": None, "cid": cid}])
        r = chan.call("scwire_service", "spawn_info")
        assert r.kind == "return" and msgs.same(r.value["init"], init), r.final
    finally:
        proc.kill()
        proc.wait()
        lsock.close()
