# SPDX-License-Identifier: AGPL-3.0-or-later
"""The raw conversations of the profile recordings, one per row of spec/profiles.md.

    profileclient.py SCENARIO HOST PORT [--callee-port PORT --callee-via PORT]
    profileclient.py SCENARIO HOST PORT --registry-port PORT --registry-via PORT
                                        --child-port PORT --child-via PORT
    profileclient.py SCENARIO HOST PORT --go-file PATH

Each shows where tractor 0.1.0a4, served by the suite's adapter
(conformance/iut/tractor/run.py, namespace `scwire_service`), differs from
the strict spec: a handshake with `["rawclient", "<uuid4>"]` (or the uid the
row is about), the fewest messages that show the row, and a close.  Every
step prints a `RAW:` line with what came back.

ctx_7_unread_error also plays the callee: it listens on --callee-port and
has the adapter's `ctx_call` connect to --callee-via, the recorder's second
tap, which forwards there; it watches the call until ctx_call reads the
context at the end of its `idle` and fails with the error kept since.

The sup_5, sup_6, sup_12 and lim_26 scenarios play the parent of a tractor child
(conformance/iut/tractor/child.py, which the recorder starts once this
prints that it listens): they listen on PORT for the child's connection
(the recorder's tap forwards it there), handshake with
`["rawparent", "<uuid4>"]`, send the init map of spec/test-service.md 5.2
and `spawn_info`, and watch.  A stand-in registry listens on --registry-port
and answers `self.register_actor` and `self.unregister_actor` (the init
map's `_arb_addr` is --registry-via, a tap in front of it); the child's
listener is --child-port (the init map's `bind_port`), reached through
--child-via.

sup_9_stubborn_child is a client of the adapter as a parent: spawn_start,
then, once the recorder has created --go-file (it captures the child's port
and traces the child's signals meanwhile), spawn_stubborn on the child
directly, and spawn_cancel on the parent.
"""
import argparse
import os
import socket
import threading
import time
import uuid

from rawclient import (CONNECT_TIMEOUT, NIL, QUIET, UID, Conn, connect, converse, pack, say,
                       scenario)

NS = "scwire_service"
# How long a step watches for what comes unasked: replies take milliseconds
# on loopback, so a second of silence means nothing more is coming.
WINDOW = 1.0
# How long ctx_call is watched after the callee's error: long enough to
# tell "fails at once" from "keeps the error", short of its `idle`, after
# which it reads the context and fails.
CTX_CALL_WATCH = 2.0
CTX_CALL_IDLE = 5
CALLER_ERROR = {"tb_str": "Traceback...\nValueError: from the caller\n",
                "type_str": "ValueError"}
CALLEE_ERROR = {"tb_str": "Traceback (most recent call last):\nKeyError: 'gone'\n",
                "type_str": "KeyError"}
# The value [timestamp] of FRAME-11 as raw bytes: msgpack-python packs a
# timestamp in its shortest form, and this one must go out in the 12-byte
# form (ext 8, type -1: nanoseconds 5 in 4 bytes, seconds 1700000000 in 8).
TIMESTAMP96_LIST = bytes.fromhex("91" "c70cff" "00000005" "000000006553f100")
END = ("return", "error")

# The parent of the child scenarios, and the stand-in registry they register with.
PARENT_UID = ["rawparent", str(uuid.uuid4())]
REGISTRY_UID = ["rawregistry", str(uuid.uuid4())]
# The module file the init map names for the namespace, as a tractor parent
# names it (the child imports it by name; `<app>/` once scrubbed).
SERVICE_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))), "conformance", "iut", "tractor",
    "scwire_service.py")
# A child takes seconds to start (its interpreter imports tractor): how long
# the parent waits for its connection, and for its answers once it serves.
CHILD_START = 30
# How long a child that fails on its init map is watched: it exits within a
# second or two.
CHILD_EXIT_WATCH = 10
# How long after its parent channel ended a child is looked at again.
ORPHAN_WAIT = 3.0
STUBBORN = "stubborn"
# spawn_cancel of a stubborn child: tractor's 0.5 s acknowledgement wait,
# twice, and 3 s before the kill, with room to spare.
CANCEL_WAIT = 20

PROFILES = {}
AS_PARENT = {}      # the scenarios that play a child's parent: fn(args)


def profile(name, uid=UID):
    return scenario(name, uid, registry=PROFILES)


def new_cid():
    return str(uuid.uuid4())


def cmd(ns, func, kwargs, cid=..., caller=UID):
    """A command; a fresh cid unless one (even a falsy one) is given."""
    return {"cmd": [ns, func, kwargs, caller, new_cid() if cid is ... else cid]}


def cid_of(msg):
    return msg["cid"] if "cid" in msg else msg["cmd"][4]


def replies_to(conn, cid, ends, quiet=QUIET):
    """The replies up to the first one on `cid` with a key of `ends`."""
    return conn.replies(until=lambda m: isinstance(m, dict) and m.get("cid") == cid
                        and any(k in m for k in ends), quiet=quiet)


def ask(conn, label, msg, ends=END):
    """Send a message; report its replies up to one on its cid with a key of `ends`."""
    conn.send(pack(msg))
    say(f"{label} -> {replies_to(conn, cid_of(msg), ends)}")
    return cid_of(msg)


def watch(conn, label, data):
    """Send a message (or bytes); report everything that comes within WINDOW."""
    conn.send(data if isinstance(data, bytes) else pack(data))
    say(f"{label} -> {conn.during(WINDOW)}")


def open_context(conn, func, kwargs):
    """Open a context of the service and take its `started`; its cid."""
    return ask(conn, f"open {func}({kwargs})", cmd(NS, func, kwargs), ends=("started", "error"))


@profile("cid_5_cmd_with_cid")
def cmd_with_cid(conn, args):
    cid = open_context(conn, "ctx_echo", {"first": None})
    watch(conn, "cmd echo carrying the context's cid",
          {**cmd(NS, "echo", {"value": "x"}), "cid": cid})


@profile("cid_10_reused_cid")
def reused_cid(conn, args):
    cid = ask(conn, "sleep_forever", cmd(NS, "sleep_forever", {}), ends=("functype",))
    watch(conn, "echo(value=1) with the live cid", cmd(NS, "echo", {"value": 1}, cid=cid))


@profile("ctx_6_caller_error")
def caller_error(conn, args):
    cid = open_context(conn, "ctx_echo", {"first": None})
    ask(conn, "yield 1", {"yield": 1, "cid": cid}, ends=("yield",))
    watch(conn, "error from the caller", {"error": CALLER_ERROR, "cid": cid})


@profile("ctx_7_unread_error")
def unread_error(conn, args):
    with socket.create_server((args.host, args.callee_port)) as server:
        server.settimeout(CONNECT_TIMEOUT)
        call = cmd(NS, "ctx_call", {"host": args.host, "port": args.callee_via, "ns": "peer",
                                    "func": "work", "kwargs": {}, "idle": CTX_CALL_IDLE})
        conn.send(pack(call))
        callee = Conn(server.accept()[0])
    try:
        fail_the_context(callee)
        failed = time.monotonic()
        say(f"ctx_call within {CTX_CALL_WATCH} s of the error -> "
            f"{conn.during(CTX_CALL_WATCH)}")
        # A caller whose context failed would have sent `_cancel_task` here.
        say(f"the callee connection meanwhile -> {callee.during(QUIET)}")
        # ctx_call reads the context when its idle ends: the error kept since.
        got = replies_to(conn, cid_of(call), END, quiet=CTX_CALL_IDLE + CTX_CALL_WATCH)
        say(f"ctx_call {time.monotonic() - failed:.1f} s after the error -> {got}")
        say(f"the callee connection then -> {callee.during(QUIET)}")
        conn.close()
    finally:
        callee.close()


def fail_the_context(callee):
    """Be the callee of ctx_call: answer its command with a context that fails."""
    callee.handshake(["rawcallee", new_cid()])
    got = callee.replies(until=lambda m: isinstance(m, dict) and "cmd" in m)
    say(f"callee got -> {got}")
    cid = got[-1]["cmd"][4]
    # One write, as from a callee that fails right after `started`: tractor's
    # caller takes all three before its task has entered the context's body,
    # which is where the row's behaviour shows.
    callee.send(pack({"functype": "context", "cid": cid}) + pack({"started": "go", "cid": cid})
                + pack({"error": CALLEE_ERROR, "cid": cid}))


@profile("ctx_8_unexpected_kind")
def unexpected_kind(conn, args):
    cid = open_context(conn, "ctx_echo", {"first": None})
    watch(conn, "return from the caller", {"return": 1, "cid": cid})


@profile("frame_11_timestamp96")
def timestamp96(conn, args):
    cid = new_cid()
    # {"cmd": [NS, "echo", {"value": [ts96]}, UID, cid]}, encoded by hand
    # around the raw value.
    data = (b"\x81" + pack("cmd") + b"\x95" + pack(NS) + pack("echo") + b"\x81" + pack("value")
            + TIMESTAMP96_LIST + pack(UID) + pack(cid))
    conn.send(data)
    say(f"echo(value=[12-byte timestamp]) -> {replies_to(conn, cid, END)}")


# The command's caller_uid stays a valid uid: only the handshake is off.
@profile("hs_6_uid_name_int", uid=[5, str(uuid.uuid4())])
def uid_name_int(conn, args):
    ask(conn, "echo(value=1)", cmd(NS, "echo", {"value": 1}))


@profile("ovr_5_error_into_full_buffer")
def error_into_full_buffer(conn, args):
    cid = open_context(conn, "ctx_no_stream", {"value": None})
    # The buffer holds 64: these fill it and get no reply.
    watch(conn, "64 yields", b"".join(pack({"yield": i, "cid": cid}) for i in range(64)))
    watch(conn, "error into the full buffer", {"error": CALLER_ERROR, "cid": cid})


@profile("reg_2_bad_registration")
def bad_registration(conn, args):
    for uid in ([1, 2], ["only-name"]):
        ask(conn, f"register_actor(uid={uid})",
            cmd("self", "register_actor", {"uid": uid, "sockaddr": ["127.0.0.1", 1]}))
    # What was stored, and under which key.
    ask(conn, "get_registry", cmd("self", "get_registry", {}))


@profile("reg_14_port_out_of_range")
def port_out_of_range(conn, args):
    ask(conn, "register_actor(port 65536)",
        cmd("self", "register_actor", {"uid": ["n", new_cid()], "sockaddr": ["127.0.0.1", 65536]}))
    ask(conn, "find_actor(name=n)", cmd("self", "find_actor", {"name": "n"}))


@profile("rpc_4_kwargs_wrong_type")
def kwargs_wrong_type(conn, args):
    ask(conn, 'count(n="3")', cmd(NS, "count", {"n": "3"}))


@profile("sec_3_cmd_cid_int")
def cmd_cid_not_a_str(conn, args):
    for cid in (5, "", None):
        ask(conn, f"echo with cid {cid!r}", cmd(NS, "echo", {"value": 1}, cid=cid))


@profile("sec_4_caller_uid_int")
def caller_uid_int(conn, args):
    ask(conn, "echo with caller_uid 5", cmd(NS, "echo", {"value": 1}, caller=5))
    ask(conn, "echo with kwargs 5", cmd(NS, "echo", 5))


@profile("sec_5_no_kind_key")
def no_kind_key(conn, args):
    cid = open_context(conn, "ctx_echo", {"first": None})
    watch(conn, "a map with no kind key", {"foo": 1, "cid": cid})


@profile("self_2_not_async")
def self_not_async(conn, args):
    # Names of the actor object, not self methods of the protocol; no kwargs,
    # so that nothing could run even where the name were taken.
    for name in ("__init__", "_from_parent"):
        ask(conn, f"self.{name}()", cmd("self", name, {}))


@profile("self_3_cancel_task_int")
def cancel_task_int(conn, args):
    ask(conn, "_cancel_task(cid=5)", cmd("self", "_cancel_task", {"cid": 5}))


# --- the child role: the raw client is the parent of a tractor child -------------

def as_parent(name):
    def register(fn):
        AS_PARENT[name] = fn
        return fn
    return register


def init_map(args, **over):
    """The init map of spec/test-service.md 5.2, with the recorder's ports: the
    registry's tap, the child's listener, this parent's listener as the root's."""
    m = {"_parent_main_data": {}, "enable_modules": {NS: SERVICE_FILE},
         "_arb_addr": [args.host, args.registry_via], "bind_host": args.host,
         "bind_port": args.child_port,
         "_runtime_vars": {"_debug_mode": False, "_is_root": False,
                           "_root_mailbox": [args.host, args.port]}}
    m.update(over)
    return m


def serve_registry(server):
    """A stand-in registry: every connection handshaken, its register_actor and
    unregister_actor answered with `functype` and `return nil`; at its end (nil
    or EOF), a nil back and a close, as tractor's registry does."""
    while True:
        try:
            sock = server.accept()[0]
        except OSError:
            return                  # the listener was shut down: the scenario is over
        conn = Conn(sock)
        try:
            say("registry: a connection")
            conn.handshake(REGISTRY_UID)
            while True:
                got = conn.replies(until=lambda m: True, quiet=CHILD_START)
                msg = got[-1]
                if msg in ("EOF", "TIMEOUT") or msg is None:
                    say(f"registry: {msg if msg is not None else 'nil'}: nil back, close")
                    if msg != "TIMEOUT":
                        conn.send(NIL)
                    break
                if isinstance(msg, dict) and "cmd" in msg:
                    ns, func, kwargs, _, cid = msg["cmd"]
                    conn.send(pack({"functype": "asyncfunc", "cid": cid})
                              + pack({"return": None, "cid": cid}))
                    say(f"registry: {ns}.{func}({kwargs}) -> return nil")
                else:
                    say(f"registry: ignored {msg}")
        except OSError as e:
            say(f"registry: {e}")
        finally:
            conn.close()


def child_role(fn):
    """Run `fn(chan, args)` as the parent of the child the recorder starts: the
    registry stand-in serving, a listener for the child's connection (the
    recorder starts the child once this says it listens), the handshake."""
    def run(args):
        registry = socket.create_server((args.host, args.registry_port))
        threading.Thread(target=serve_registry, args=(registry,), daemon=True).start()
        try:
            with socket.create_server((args.host, args.port)) as server:
                server.settimeout(CHILD_START)
                say(f"listening as the parent on {args.host}:{args.port}")
                chan = Conn(server.accept()[0])
            try:
                chan.handshake(PARENT_UID)
                fn(chan, args)
            finally:
                chan.close()
        finally:
            # shutdown wakes the accept of serve_registry (close alone does not).
            try:
                registry.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            registry.close()
        say("done")
    return run


def send_init_map(chan, label, m):
    """The init map and, right behind it, spawn_info (a parent's first command);
    the cid of spawn_info."""
    call = cmd(NS, "spawn_info", {}, caller=PARENT_UID)
    chan.send(pack(m) + pack(call))
    say(f"sent the init map ({label}) and spawn_info")
    return cid_of(call)


def init_map_refused(chan, label, m):
    send_init_map(chan, label, m)
    # The child's answer, if any, and its end: it exits within a second or two.
    say(f"what the child sent then -> {chan.during(CHILD_EXIT_WATCH)}")


@as_parent("sup_5_nil_registry")
@child_role
def nil_registry(chan, args):
    init_map_refused(chan, "_arb_addr nil", init_map(args, _arb_addr=None))


@as_parent("sup_6_bad_runtime_vars")
@child_role
def bad_runtime_vars(chan, args):
    init_map_refused(chan, "_runtime_vars []", init_map(args, _runtime_vars=[]))


@as_parent("lim_26_nul_bind_host")
@child_role
def nul_bind_host(chan, args):
    cid = send_init_map(chan, "bind_host with a NUL byte",
                        init_map(args, bind_host=args.host + "\x00evil"))
    # It registers (the stand-in says where it listens), then answers.
    say(f"spawn_info -> {replies_to(chan, cid, END, quiet=CHILD_START)}")
    chan.send(NIL)
    say(f"parent channel ended (nil) -> {chan.during(CHILD_EXIT_WATCH)}")


@as_parent("sup_12_parent_channel_ends")
@child_role
def parent_channel_ends(chan, args):
    cid = send_init_map(chan, "a good one", init_map(args))
    # It registers (the stand-in says so), then answers.
    say(f"spawn_info -> {replies_to(chan, cid, END, quiet=CHILD_START)}")
    chan.sock.shutdown(socket.SHUT_WR)
    ended = time.monotonic()
    say(f"parent channel ended (FIN) -> {chan.during(WINDOW)}")
    chan.close()
    time.sleep(max(0.0, ORPHAN_WAIT - (time.monotonic() - ended)))
    # The child's own listener, through the recorder's tap.
    child = connect(args.host, args.child_via)
    try:
        child.handshake(UID)
        ask(child, f"{time.monotonic() - ended:.1f} s after the parent channel ended: "
                   "echo(value=1) on the child's listener", cmd(NS, "echo", {"value": 1}))
    finally:
        child.close()


@profile("frame_13_truncated_silent")
def truncated_silent(conn, args):
    data = pack(cmd(NS, "echo", {"value": "cut short"}))
    conn.send(data[:len(data) // 2])
    say(f"sent {len(data) // 2} of the {len(data)} bytes of an echo command; the connection "
        f"ends here")
    conn.close()
    # What the adapter logged meanwhile is in the daemon's log of this scenario.
    after = connect(args.host, args.port)
    try:
        after.handshake(UID)
        ask(after, "echo on a new connection", cmd(NS, "echo", {"value": "after"}))
    finally:
        after.close()


# --- the parent role through the client: run_in_child ---------------------------

def run_in_child_until_running(conn, name, func, kwargs):
    """run_in_child(name, func); its cid once spawn_list shows the child running."""
    call = cmd(NS, "run_in_child", {"name": name, "ns": NS, "func": func, "kwargs": kwargs})
    conn.send(pack(call))
    say(f"run_in_child({name}, {func}) -> {replies_to(conn, cid_of(call), ('functype',))}")
    deadline = time.monotonic() + CHILD_START
    while time.monotonic() < deadline:
        rows = replies_to(conn, ask_quietly(conn, cmd(NS, "spawn_list", {})), END)[-1]
        if any(r[0] == name and r[3] == "running" for r in rows.get("return", [])):
            say(f"spawn_list -> {rows}")
            return cid_of(call)
        time.sleep(0.1)
    raise SystemExit(f"RAW: the child {name} was not running within {CHILD_START} s")


def ask_quietly(conn, msg):
    conn.send(pack(msg))
    return cid_of(msg)


@profile("sup_13_cancelled_run_in_child")
def cancelled_run_in_child(conn, args):
    cid = run_in_child_until_running(conn, "w13", "sleep_forever", {})
    ask(conn, "_cancel_task of the run_in_child", cmd("self", "_cancel_task", {"cid": cid}))
    say(f"the run_in_child call then -> {conn.during(WINDOW)}")


@profile("svc_24_killed_child")
def killed_child(conn, args):
    cid = run_in_child_until_running(conn, "w24", "sleep_forever", {})
    ask(conn, "spawn_kill(w24, 9)", cmd(NS, "spawn_kill", {"name": "w24", "signal": 9}))
    say(f"the run_in_child call then -> {replies_to(conn, cid, END, quiet=CHILD_START)}")


@profile("svc_20_kwargs_named_ns")
def kwargs_named_ns(conn, args):
    call = cmd(NS, "run_in_child", {"name": "w20", "ns": NS, "func": "ctx_call",
                                    "kwargs": {"host": "127.0.0.1", "port": 9, "ns": NS,
                                               "func": "ctx_echo", "kwargs": {}}})
    conn.send(pack(call))
    say(f"run_in_child(w20, ctx_call with a kwarg named ns) -> "
        f"{replies_to(conn, cid_of(call), END, quiet=CHILD_START)}")


# --- the parent role: the adapter spawns a child that ignores its cancel ---------

def wait_for_file(path, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"RAW: {path} did not appear within {timeout} s")
        time.sleep(0.05)


@profile("sup_9_stubborn_child")
def stubborn_child(conn, args):
    call = cmd(NS, "spawn_start", {"name": STUBBORN})
    conn.send(pack(call))
    got = replies_to(conn, cid_of(call), END, quiet=CHILD_START)
    say(f"spawn_start(name={STUBBORN}) -> {got}")
    host, port = got[-1]["return"]
    # The recorder captures this port and traces the child's signals, then
    # creates the file.
    say(f"child listens at {host}:{port}")
    wait_for_file(args.go_file, CHILD_START)
    child = connect(host, port)
    try:
        child.handshake(UID)
        ask(child, "spawn_stubborn(ignore_sigterm=true) on the child",
            cmd(NS, "spawn_stubborn", {"ignore_sigterm": True}), ends=("functype",))
        call = cmd(NS, "spawn_cancel", {"name": STUBBORN})
        say(f"spawn_cancel sent at {time.time():.6f} (epoch)")
        started = time.monotonic()
        conn.send(pack(call))
        got = replies_to(conn, cid_of(call), END, quiet=CANCEL_WAIT)
        say(f"spawn_cancel({STUBBORN}) -> {got} after {time.monotonic() - started:.2f} s")
        say(f"the child connection then -> {child.replies()}")
    finally:
        child.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", choices=sorted(set(PROFILES) | set(AS_PARENT)))
    ap.add_argument("host")
    ap.add_argument("port", type=int, help="the adapter's port; where the parent of a "
                                           "child scenario listens")
    ap.add_argument("--callee-port", type=int, help="where ctx_7 listens as the callee")
    ap.add_argument("--callee-via", type=int, help="the port ctx_7 gives ctx_call")
    ap.add_argument("--registry-port", type=int, help="where the stand-in registry listens")
    ap.add_argument("--registry-via", type=int, help="the init map's registry port")
    ap.add_argument("--child-port", type=int, help="the init map's bind_port")
    ap.add_argument("--child-via", type=int, help="where the child's listener is reached")
    ap.add_argument("--go-file", help="sup_9: goes on once this file exists")
    args = ap.parse_args()
    if args.scenario in AS_PARENT:
        missing = [o for o in ("registry_port", "registry_via", "child_port", "child_via")
                   if getattr(args, o) is None]
        if missing:
            ap.error(f"{args.scenario} needs --{', --'.join(m.replace('_', '-') for m in missing)}")
        AS_PARENT[args.scenario](args)
        return
    if args.scenario == "sup_9_stubborn_child" and not args.go_file:
        ap.error("sup_9_stubborn_child needs --go-file")
    fn, uid = PROFILES[args.scenario]
    converse(args.host, args.port, uid, lambda conn: fn(conn, args))


if __name__ == "__main__":
    main()
