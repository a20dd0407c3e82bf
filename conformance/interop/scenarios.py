# SPDX-License-Identifier: AGPL-3.0-or-later
"""The scenarios of the interop matrix, and what the wire must show for each.

Each scenario has a stable id, one letter for the matrix (as quic-interop-runner
prints its test cases), what it needs of the server: `registry` (it runs in
the registry role) or `supervision` (the functions of test-service.md section
5), and the connections the runner connects and drops at the server while it
runs.  Resets at once are a scenario of their own: tractor 0.1.0a4 dies of
one (README.md), which must not hide how it streams under ordinary drops.

`WIRE_CHECKS` are checks on the transcript the tap recorded between client
and server, for what a client's API hides (a tractor caller does not show the
ContextCancelled that ends a context it cancelled).
"""
from scwire_conform import msgs


class Scenario:
    def __init__(self, sid, letter, title, needs=None, drops=()):
        self.id, self.letter, self.title, self.needs = sid, letter, title, needs
        self.drops = drops          # kinds of connect-and-drop (procs.Dropper) meanwhile

    def as_json(self):
        return {"id": self.id, "letter": self.letter, "title": self.title, "needs": self.needs,
                "drops": list(self.drops)}


SCENARIOS = [
    Scenario("rpc_return", "R", "RPC return: echo(value) gives value back"),
    Scenario("rpc_error", "E", "RPC error: raise_error gives its type_str and text"),
    Scenario("asyncgen", "G", "asyncgen: count(5) streams 0..4, then stop"),
    Scenario("ctx_stream", "S", "context with a stream both ways: ctx_echo"),
    Scenario("ctx_error", "X", "context error: ctx_error_after_started(KeyError)"),
    Scenario("ctx_cancel", "C", "context cancel: _cancel_task of ctx_no_stream, ContextCancelled"),
    Scenario("overrun", "O", "overrun: 65 yields into ctx_no_stream, StreamOverrun"),
    Scenario("registry", "Y", "registry: register, find_actor, wait_for_actor, unregister",
             needs="registry"),
    Scenario("cancel_task", "T", "cancel task: self._cancel_task of a running task"),
    Scenario("cancel_actor", "A", "cancel actor: self.cancel acknowledged, the server exits"),
    Scenario("spawn", "P", "spawn and error propagation: run_in_child, run_in_children",
             needs="supervision"),
    Scenario("connect_drop", "D", "a client streams while other connections connect and drop "
             "(FIN at once, after the uid, after half a uid; RST after the uid)",
             drops=("fin", "read-fin", "half", "read-rst")),
    Scenario("connect_reset", "Z", "a client streams while other connections connect and "
             "reset at once (RST before the server has read or sent anything)",
             drops=("rst",)),
]
BY_ID = {s.id: s for s in SCENARIOS}


def _cmds(entries, func):
    return [e for e in entries if e.get("dir") == "c2s" and isinstance(e.get("msg"), dict)
            and isinstance(e["msg"].get("cmd"), list) and e["msg"]["cmd"][:2] == ["self", func]]


def _answered(entries, cmd_entry, pattern):
    cid = cmd_entry["msg"]["cmd"][4]
    return any(e.get("conn") == cmd_entry["conn"] and e.get("dir") == "s2c"
               and pattern(cid)(e.get("msg")) for e in entries)


def _server_error(entries, type_str):
    return any(e.get("dir") == "s2c" and isinstance(e.get("msg"), dict)
               and isinstance(e["msg"].get("error"), dict)
               and e["msg"]["error"].get("type_str") == type_str for e in entries)


def check_ctx_cancel(entries):
    if not _server_error(entries, "ContextCancelled"):
        return "the server sent no ContextCancelled error"
    return None


def check_overrun(entries):
    if not _server_error(entries, "StreamOverrun"):
        return "the server sent no StreamOverrun error"
    return None


def check_self_call(func, value):
    def check(entries):
        sent = _cmds(entries, func)
        if not sent:
            return f"the client sent no self.{func}"
        if not any(_answered(entries, e, lambda cid: msgs.ret(cid, value)) for e in sent):
            return f"no self.{func} was answered with return {value!r}"
        return None
    return check


def check_registered(entries):
    if not _cmds(entries, "register_actor"):
        return "nobody registered through the recorded connections"
    return None


WIRE_CHECKS = {
    "ctx_cancel": check_ctx_cancel,
    "overrun": check_overrun,
    "cancel_task": check_self_call("_cancel_task", None),
    "cancel_actor": check_self_call("cancel", True),
    "registry": check_registered,
}


def wire_problem(sid, entries):
    """What the transcript lacks for scenario sid, or None."""
    fn = WIRE_CHECKS.get(sid)
    return fn(entries) if fn else None
