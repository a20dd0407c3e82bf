# SPDX-License-Identifier: AGPL-3.0-or-later
"""The scenarios that record-vectors records, in the order it records them.

Each names the trace file it produces (without `.jsonl`) and how it is set
up, following conformance/vectors/tractor-0.1.0a4/README.md:

- `client`: a tractor root actor `client` that registers with the daemon
  through the proxy (client.py);
- `standalone`: the same program, its own registry on a free port, so that
  the only connection through the proxy is the scenario's own;
- `raw`: rawclient.py, socket and msgpack only;
- `parent`: parent.py spawns subactors; recorded from a packet capture of
  its registry port instead of through the proxy;
- `profile`: profileclient.py against the suite's tractor adapter
  (conformance/iut/tractor/run.py) instead of the daemon: one scenario per
  row of spec/profiles.md, written under profile/, its side logs under
  logs/profile/.  Its `role` says what tractor plays: `server` (the adapter
  serving the client through a tap), `child` (the adapter's child.py, whose
  parent the client plays, behind taps) or `parent` (the adapter spawning a
  child, recorded from packet captures of its port and of the child's).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str
    arg: str                   # the scenario's name for its client program
    summary: str
    recording_set: str         # "a-k", "first" or "profile"
    daemon_exits: bool = False  # the daemon is expected to crash by itself
    side_daemons: tuple = ()   # further daemons registered with the first one
    callee: bool = False       # profile: the client also plays a callee of the adapter
    role: str = "server"       # profile: what tractor plays (server, child or parent)

    @property
    def proxied(self):
        return self.kind != "parent"

    @property
    def stem(self):
        """The trace's path under the output directory, without `.jsonl`; the
        side logs are logs/<stem>.<role>.log."""
        return f"profile/{self.name}" if self.kind == "profile" else self.name

    @property
    def file(self):
        return f"{self.stem}.jsonl"


def _second(name, kind, arg, summary, **kw):
    return Scenario(name, kind, arg, summary, "a-k", **kw)


def _first(name, kind, summary):
    # client.py and parent.py know the first set by the file names.
    return Scenario(name, kind, name, summary, "first")


def _profile(requirement, name, summary, **kw):
    # The summary begins with the id of the row of spec/profiles.md it shows.
    return Scenario(name, "profile", name, f"{requirement}: {summary}", "profile", **kw)


SCENARIOS = (
    _second("a_handshake", "standalone", "a_handshake",
            "handshake only, then the client closes"),
    _second("b_connect_drop", "client", "b_connect_drop",
            "bare connect+close, then a client start-up and exit"),
    _second("c_rpc_return", "client", "c_rpc_return", "svc.echo of many types, svc.add"),
    _second("d_rpc_error", "client", "d_rpc_error",
            "boom, not_async, module os, svc.nope: four errors"),
    _second("e_asyncgen", "client", "e_asyncgen", "count(5) read to the end"),
    _second("e2_asyncgen_early_break", "client", "e2_asyncgen_early_break",
            "count(100), break after 3"),
    _second("e3_asyncgen_early_break_overrun", "client", "e3_asyncgen_early_break_overrun",
            "count(200), stall, break: StreamOverrun both ways"),
    _second("f_context_stream", "client", "f_context_stream", "ctx_echo with a stream of 3"),
    _second("g_context_overrun", "client", "g_context_overrun",
            "65 yields to ctx_no_stream: one StreamOverrun"),
    _second("h_cancel_actor", "standalone", "h_cancel_actor", "portal.cancel_actor()"),
    _second("h2_cancel_actor_inflight", "standalone", "h2_cancel_actor_inflight",
            "cancel_actor() with sleep_forever in flight"),
    _second("i_registry", "client", "i_registry",
            "self.find_actor/wait_for_actor/get_registry, tractor.find_actor, a late actor",
            side_daemons=("svcd",)),
    _second("j_unknown_cid", "raw", "unknown_cid", "messages for unknown cids, then echo"),
    _second("k1_no_cmd_no_cid", "raw", "no_cmd_no_cid",
            "{foo: 1}: the daemon crashes", daemon_exits=True),
    _second("k2_non_map", "raw", "non_map", "42 as a message: the daemon crashes",
            daemon_exits=True),
    _second("k3_garbage_byte", "raw", "garbage", "byte 0xc1: the daemon crashes",
            daemon_exits=True),
    _second("k4_bad_uid", "raw", "bad_uid", "42 instead of a uid: the daemon crashes",
            daemon_exits=True),
    _second("k5_cmd_errors", "raw", "cmd_errors", "cmd for module os and svc.no_such_func"),
    _second("k6_cmd_self_unknown", "raw", "cmd_self_unknown",
            "self.no_such_method: the daemon crashes", daemon_exits=True),
    _first("rpc_return", "client", "svc.echo of a small map"),
    _first("rpc_error", "client", "svc.boom: the error payload"),
    _first("asyncgen", "client", "count(5) read to the end"),
    _first("context_stream", "client", "ctx_echo with a stream of 3"),
    _first("context_error", "client", "error after started, the caller cancels"),
    _first("context_overrun", "client", "100 yields to ctx_no_stream"),
    _first("context_cancel", "client", "ctx_no_stream, then ctx.cancel()"),
    _first("registry", "client", "self.find_actor/wait_for_actor/get_registry of arbiter"),
    _first("cancel_task", "client", "sleep_forever cancelled on the client side"),
    _first("spawn_run_cancel", "parent", "start_actor, portal.run, cancel_actor"),
    _first("run_in_actor_result", "parent", "run_in_actor and its result"),
    _first("run_in_actor_error", "parent", "a failing run_in_actor cancels its sibling"),
    _profile("CID-5", "cid_5_cmd_with_cid", "a cmd carrying a live context's cid"),
    _profile("CID-10", "cid_10_reused_cid", "echo with the cid of a running sleep_forever"),
    _profile("CTX-6", "ctx_6_caller_error", "an error from the caller into ctx_echo"),
    _profile("CTX-7", "ctx_7_unread_error", "ctx_call to a raw callee that fails at once",
             callee=True),
    _profile("CTX-8", "ctx_8_unexpected_kind", "a return from the caller into ctx_echo"),
    _profile("FRAME-11", "frame_11_timestamp96", "echo of a 12-byte timestamp"),
    _profile("HS-6", "hs_6_uid_name_int", "handshake uid [5, uuid], then echo"),
    _profile("OVR-5", "ovr_5_error_into_full_buffer", "64 yields, then an error"),
    _profile("REG-2", "reg_2_bad_registration", "register_actor with uid [1, 2] and [name]"),
    _profile("REG-14", "reg_14_port_out_of_range", "register_actor with port 65536"),
    _profile("RPC-4", "rpc_4_kwargs_wrong_type", 'count(n="3")'),
    _profile("SEC-3", "sec_3_cmd_cid_int", 'echo with the cids 5, "" and nil'),
    _profile("SEC-4", "sec_4_caller_uid_int", "caller_uid 5, then kwargs 5"),
    _profile("SEC-5", "sec_5_no_kind_key", "{foo: 1} with the cid of ctx_echo"),
    _profile("SELF-2", "self_2_not_async", "self.__init__ and self._from_parent"),
    _profile("SELF-3", "self_3_cancel_task_int", "_cancel_task(cid=5)"),
    # The supervision rows: tractor as a child (role child: child.py, the raw
    # client its parent; daemon_exits: the child is expected to exit by
    # itself) and as a parent (role parent: run.py spawning a child that
    # ignores self.cancel).
    _profile("SUP-5", "sup_5_nil_registry", "child: an init map with _arb_addr nil",
             role="child", daemon_exits=True),
    _profile("SUP-6", "sup_6_bad_runtime_vars", "child: an init map with _runtime_vars []",
             role="child", daemon_exits=True),
    _profile("SUP-9", "sup_9_stubborn_child", "parent: spawn_cancel of a stubborn child",
             role="parent"),
    _profile("FRAME-13", "frame_13_truncated_silent",
             "half an echo command, then the end of the connection; an echo after"),
    _profile("SUP-13", "sup_13_cancelled_run_in_child",
             "parent, driven as a server: run_in_child of sleep_forever, then _cancel_task"),
    _profile("SVC-24", "svc_24_killed_child",
             "parent, driven as a server: run_in_child of sleep_forever, then spawn_kill 9"),
    _profile("SVC-20", "svc_20_kwargs_named_ns",
             "parent, driven as a server: run_in_child of ctx_call, whose kwargs name ns"),
    _profile("SUP-12", "sup_12_parent_channel_ends",
             "child: registered and serving, then its parent channel ends", role="child"),
    _profile("LIM-26", "lim_26_nul_bind_host",
             "child: an init map whose bind_host holds a NUL byte", role="child"),
)

BY_NAME = {s.name: s for s in SCENARIOS}
