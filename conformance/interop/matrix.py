# SPDX-License-Identifier: AGPL-3.0-or-later
"""The matrix: every (client, server) cell, scenario by scenario.

Each scenario gets a fresh server (a scenario may end it: self.cancel, a
crash), in the registry role where the implementation has one, with
scwire-tap in front of it recording the conversation (the cell's wire
transcript); the client reaches the server through the tap, the runner's own
checks go to the server directly.  After the client, the server must still
serve a fresh connection (or, after self.cancel, have exited), and the
transcript must show what the client's API hides (scenarios.WIRE_CHECKS).

What a server offers beyond the core is probed once per implementation: the
registry role (`self.find_actor` answered), the supervision functions
(`spawn_list` answered) and `ctx_call` (not refused with AttributeError).
"""
import contextlib
import json
import os
import shlex
import time
import traceback
import uuid

import conform_client
from drivers import DRIVERS, Fail, Skip, find, poll
from procs import Dropper, IUTError
from scenarios import SCENARIOS, wire_problem
from scwire_conform.verdict import Violation
from scwire_conform.wire import SERVICE, Closed, Timeout
from scwire_conform.wirelog import WireLog, short

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
CANCEL_EXIT_WAIT = 5.0
DYING_GRACE = 1.0           # a server the client saw fail may still be dying
FAILURES = (Fail, Violation, conform_client.Mismatch, Closed, Timeout, IUTError, OSError,
            ValueError)


class Settings:
    def __init__(self, out, codec, timeout, start_timeout, tap):
        self.out, self.codec, self.timeout = out, codec, timeout
        self.start_timeout, self.tap = start_timeout, tap


def reason_of(exc):
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, (Fail, Skip, conform_client.Mismatch, Violation)) \
        else f"{type(exc).__name__}: {text}"


class Run:
    """One scenario of one cell: its directory, processes and connections."""

    def __init__(self, matrix, client, server_impl, sc):
        self.m, self.client, self.server_impl, self.sc = matrix, client, server_impl, sc
        self.dir = os.path.join(matrix.settings.out, "cells",
                                f"{client.name}--{server_impl.name}", sc.id)
        os.makedirs(self.dir, exist_ok=True)
        self.codec = matrix.settings.codec
        self.timeout = matrix.settings.timeout
        self.tag = uuid.uuid4().hex[:8]
        self.wirelog = WireLog()
        self.logs, self.started, self.conns = [], [], []
        self.server = self.tap = None
        self.server_addr = self.direct_addr = None
        self.transcript = None
        self.client_name = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, template, label):
        iut = self.m.procs.start(template, label, log_dir=self.dir)
        self.started.append(iut)
        self.logs += iut.stderr_paths
        return iut

    def stop(self, iut):
        if iut in self.started:
            self.started.remove(iut)
        return self.m.procs.stop(iut)

    def connect(self, target=None):
        """A handshaken Conn to target (an IUT), by default to the server (via the tap)."""
        host, port = (target.host, target.port) if target else self.server_addr
        c = conform_client.new_conn(host, port, self.codec, self.wirelog, self.timeout)
        self.conns.append(c)
        return c

    def connect_direct(self):
        return self.connect(self.server)

    def start_server(self):
        impl = self.server_impl
        self.server = self.start(impl.command(impl.server), "server")
        self.server_addr = self.direct_addr = (self.server.host, self.server.port)
        if self.m.settings.tap:
            self.transcript = self.path("wire.jsonl")
            tap = (f"{shlex.quote(self.m.settings.tap)} --listen {{host}}:{{port}} --target "
                   f"{self.server.host}:{self.server.port} --out {shlex.quote(self.transcript)} "
                   f"--codec {{codec}} --quiet")
            self.tap = self.start(tap, "tap")
            self.server_addr = (self.tap.host, self.tap.port)

    def keep_traceback(self):
        path = self.path("runner-error.txt")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
        self.logs.append(path)
        return rel(path, self.m.settings.out)

    def close(self):
        for c in self.conns:
            c.close()
        for iut in reversed(self.started):
            self.m.procs.stop(iut)
        self.started = []
        if self.wirelog.entries:
            path = self.path("runner.wire.jsonl")
            self.wirelog.dump(path)
            self.logs.append(path)


class Matrix:
    def __init__(self, impls, settings, procs, scenarios=SCENARIOS):
        self.impls = impls
        self.scenarios = scenarios
        self.settings = settings
        self.procs = procs
        self.caps = {}              # impl name -> probed capabilities
        self.broken = {}            # impl name -> why its server does not start

    def servers(self):
        return [i for i in self.impls if i.server]

    # --- probing --------------------------------------------------------------------

    def probe_all(self):
        for impl in self.servers():
            if impl.available:
                self.caps[impl.name] = self.probe(impl)

    def probe(self, impl):
        caps = {}
        try:
            with self.probe_server(impl) as conn_to:
                for name, ns, func, args in (("registry", "self", "find_actor",
                                              {"name": "interop-probe"}),
                                             ("supervision", SERVICE, "spawn_list", {}),
                                             ("ctx_call", SERVICE, "ctx_call", {})):
                    caps[name], caps[name + "_probe"] = probe_one(conn_to(), name, ns, func, args)
        except FAILURES as e:
            self.broken[impl.name] = f"the server could not be started: {reason_of(e)}"
            caps["error"] = self.broken[impl.name]
        return caps

    @contextlib.contextmanager
    def probe_server(self, impl):
        """A connection maker to a server of impl that restarts it when a probe ended it."""
        d = os.path.join(self.settings.out, "probe", impl.name)
        os.makedirs(d, exist_ok=True)
        state = {"iut": None, "conn": None}

        def conn_to():
            if state["conn"]:
                state["conn"].close()
            if state["iut"] is None or not state["iut"].alive():
                if state["iut"] is not None:
                    self.procs.stop(state["iut"])
                state["iut"] = self.procs.start(impl.command(impl.server), "server", log_dir=d)
            iut = state["iut"]
            state["conn"] = conform_client.new_conn(iut.host, iut.port, self.settings.codec,
                                                    WireLog(), self.settings.timeout)
            return state["conn"]
        try:
            yield conn_to
        finally:
            if state["conn"]:
                state["conn"].close()
            if state["iut"]:
                self.procs.stop(state["iut"])

    # --- cells ----------------------------------------------------------------------

    def verdict_before(self, client, server_impl, sc):
        """(SKIP or FAIL, reason) when the scenario cannot run at all, else None:
        an unavailable implementation or a scenario the client cannot play is
        SKIP, an implementation that does not start is FAIL, a server without
        the role the scenario needs is SKIP."""
        for impl in (client, server_impl):
            if not impl.available:
                return SKIP, f"{impl.name} is unavailable: {impl.reason}"
        why = self.driver(client).unsupported(sc, server_impl)
        if why:
            return SKIP, why
        for impl in (server_impl, client):
            if impl.name in self.broken and (impl is server_impl or impl.driver == "roles"):
                return FAIL, f"{impl.name}: {self.broken[impl.name]}"
        caps = self.caps.get(server_impl.name, {})
        if sc.needs and not caps.get(sc.needs):
            what = {"registry": "is not a registry", "supervision":
                    "offers no supervision functions (test-service.md section 5)"}[sc.needs]
            return SKIP, f"the server {server_impl.name} {what} " \
                         f"(probe: {caps.get(sc.needs + '_probe')})"
        return None

    def driver(self, impl):
        return DRIVERS[impl.driver](impl, self.caps.get(impl.name, {}))

    def run_cell(self, client, server_impl, progress=None):
        results = []
        for sc in self.scenarios:
            res = self.run_scenario(client, server_impl, sc)
            results.append(res)
            if progress:
                progress(client, server_impl, res)
        counts = {k: sum(1 for r in results if r["result"] == k) for k in (PASS, FAIL, SKIP)}
        return {"client": client.name, "server": server_impl.name, "passed": counts[PASS],
                "failed": counts[FAIL], "skipped": counts[SKIP],
                "total": counts[PASS] + counts[FAIL], "results": results}

    def run_scenario(self, client, server_impl, sc):
        t0 = time.monotonic()
        res = {"scenario": sc.id, "letter": sc.letter, "transcript": None, "logs": []}
        early = self.verdict_before(client, server_impl, sc)
        if early:
            return dict(res, result=early[0], reason=early[1], duration=0.0)
        run = Run(self, client, server_impl, sc)
        try:
            result, reason = PASS, self.play(run, client, sc)
        except Skip as e:
            result, reason = SKIP, str(e)
        except FAILURES as e:
            result, reason = FAIL, reason_of(e)
        except Exception as e:      # noqa: BLE001  a reply no check foresaw ends this cell only
            result, reason = FAIL, f"unexpected {reason_of(e)} (traceback: {run.keep_traceback()})"
        finally:
            run.close()
        result, reason = self.judge_transcript(run, sc, result, reason)
        return dict(res, result=result, reason=reason, duration=round(time.monotonic() - t0, 3),
                    transcript=rel(run.transcript, self.settings.out),
                    logs=[rel(p, self.settings.out) for p in run.logs])

    def play(self, run, client, sc):
        driver = self.driver(client)
        if driver.serverless(sc, run.server_impl):
            # The client's own child plays the server: no server, no tap.
            return driver.run(sc, run)
        run.start_server()
        dropper = Dropper(*run.direct_addr, sc.drops) if sc.drops else None
        try:
            with dropper or contextlib.nullcontext():
                text = driver.run(sc, run)
        except FAILURES as e:
            if sc.id != "cancel_actor":
                check_alive(run, f"; the client saw: {reason_of(e)}", grace=DYING_GRACE)
            raise
        if dropper:
            text += "; meanwhile " + dropper.summary()
        return text + self.after(run, sc)

    def after(self, run, sc):
        """The server's state after the client: exited after self.cancel, else still
        serving; a tractor client that registered has unregistered."""
        if sc.id == "cancel_actor":
            rc = run.server.wait_exit(CANCEL_EXIT_WAIT)
            if rc is None:
                raise Fail(f"the server acknowledged self.cancel but still runs "
                           f"{CANCEL_EXIT_WAIT:g} s later")
            return f"; the server exited with status {rc}"
        check_alive(run)
        c = run.connect_direct()
        r = c.call(SERVICE, "echo", {"value": "still serving"})
        if r.kind != "return" or r.value != "still serving":
            raise Fail(f"robustness: the server's echo on a fresh connection answered "
                       f"{short(r.final)}")
        if sc.id == "registry" and run.client_name:
            left = poll(lambda: find(c, run.client_name), lambda v: v is None)
            if left is not None:
                raise Fail(f"{run.client_name} is still registered after it exited")
            return f"; {run.client_name} unregistered on exit"
        return ""

    def judge_transcript(self, run, sc, result, reason):
        if run.transcript is None or result != PASS:
            return result, reason
        try:
            entries = read_jsonl(run.transcript)
        except (OSError, ValueError) as e:
            return FAIL, f"{reason}; the tap's transcript is unreadable: {e}"
        problem = wire_problem(sc.id, entries)
        if problem:
            return FAIL, f"on the wire: {problem} (the client reported: {reason})"
        return result, reason


def probe_one(conn, name, ns, func, args):
    """(offered, what the server answered) for one probing call."""
    try:
        r = conn.call(ns, func, args)
    except (Violation, Closed, Timeout, OSError) as e:
        return False, f"{ns}.{func}: {reason_of(e)}"
    if name == "ctx_call":
        return r.type_str != "AttributeError", f"{ns}.{func}({{}}) answered {short(r.final, 120)}"
    return r.kind == "return", f"{ns}.{func} answered {short(r.final, 120)}"


def check_alive(run, more="", grace=0.0):
    """A server that died during the scenario is the finding, whatever the client saw
    (given `grace` seconds to finish dying)."""
    rc = run.server.wait_exit(grace) if grace else (None if run.server.alive() else
                                                     run.server.wait_exit(0))
    if rc is not None:
        raise Fail(f"robustness: the server exited (status {rc}) during the scenario; its "
                   f"last words: {last_line(run.server.stderr_paths[-1])!r}{more}")


def last_line(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = [ln.strip() for ln in fh if ln.strip()]
    except OSError:
        return ""
    return lines[-1][-300:] if lines else ""


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def rel(path, base):
    return os.path.relpath(path, base) if path else None
