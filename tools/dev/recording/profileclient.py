# SPDX-License-Identifier: AGPL-3.0-or-later
"""The raw conversations of the profile recordings, one per row of spec/profiles.md.

    profileclient.py SCENARIO HOST PORT [--callee-port PORT --callee-via PORT]

Each shows where tractor 0.1.0a4, served by the suite's adapter
(conformance/iut/tractor/run.py, namespace `scwire_service`), differs from
the strict spec: a handshake with `["rawclient", "<uuid4>"]` (or the uid the
row is about), the fewest messages that show the row, and a close.  Every
step prints a `RAW:` line with what came back.

ctx_7_unread_error also plays the callee: it listens on --callee-port and
has the adapter's `ctx_call` connect to --callee-via, the recorder's second
tap, which forwards there; it watches the call until ctx_call reads the
context at the end of its `idle` and fails with the error kept since.
"""
import argparse
import socket
import time
import uuid

from rawclient import CONNECT_TIMEOUT, QUIET, UID, Conn, converse, pack, say, scenario

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

PROFILES = {}


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", choices=sorted(PROFILES))
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--callee-port", type=int, help="where ctx_7 listens as the callee")
    ap.add_argument("--callee-via", type=int, help="the port ctx_7 gives ctx_call")
    args = ap.parse_args()
    fn, uid = PROFILES[args.scenario]
    converse(args.host, args.port, uid, lambda conn: fn(conn, args))


if __name__ == "__main__":
    main()
