# SPDX-License-Identifier: AGPL-3.0-or-later
"""Replay of the recorded tractor 0.1.0a4 conversations against the IUT.

The recordings (vectors/tractor-0.1.0a4/*.jsonl, the trace format of
wirelog.py) show a tractor client talking to a tractor daemon that exposes a
module `svc` and is the registry.  The suite plays the client: it sends the
client's messages of each recorded connection, in order, to the IUT, and
compares what the IUT answers with what the daemon answered.

What is mapped before sending:
- the namespace `svc` becomes `scwire_service`, and the recorded functions
  become their counterparts in test-service.md (echo, count, ctx_echo,
  ctx_no_stream, sleep_forever, boom -> raise_error ValueError,
  ctx_error_after_started -> its KeyError variant); functions the daemon did
  not have become `no_such_function`; messages of functions with no
  counterpart (`add`, `not_async`) are left out with their replies, and so
  are registry methods when the IUT is no registry;
- the daemon's identity (its name, uuid and listening address) becomes the
  IUT's wherever the client used it (`find_actor("arbiter")`).

What is compared: per connection and per cid (the order between cids is free,
CID-8), the IUT's messages with the daemon's, after turning the IUT's identity
back into the daemon's and tracebacks into nothing (`normalize`, tb="drop";
type_str is compared).  Deliberate differences (the profile `strict`): the
callee may send `stop` once or more (tractor sends it twice), and nil after
the end of a channel is optional.  With the profile `tractor`, stops are
compared as recorded.

Registrations the trace only shows in answers (a daemon that registered
directly, not through the recording proxy) are made from a side connection:
entries of `get_registry` answers before replaying, and the actor that a
blocking `wait_for_actor` waited for right after that command.
"""
import json
import os
import re
import time
import uuid

from . import normalize
from .msgs import new_cid
from .verdict import Violation
from .wire import SERVICE, Closed, Timeout
from .wirelog import json_view, short

REGISTRY_METHODS = ("register_actor", "unregister_actor", "find_actor", "wait_for_actor",
                    "get_registry")
# The daemon's module `svc` (vectors README) and its counterparts.
SVC_FUNCS = ("echo", "add", "boom", "count", "sleep_forever", "not_async", "ctx_echo",
             "ctx_no_stream", "ctx_error_after_started")
NO_COUNTERPART = {
    "add": "svc.add(x, y) has no counterpart in scwire_service",
    "not_async": "svc.not_async is a plain function; scwire_service has none (RPC-5 is a MAY)",
}


LEAVE_OUT = object()


def _map_func(func, kwargs):
    """(scwire_service function, kwargs) for a recorded svc function."""
    if func == "boom":
        return "raise_error", {"type_str": "ValueError", "text": kwargs.get("text", "")}
    if func == "ctx_no_stream":
        return "ctx_no_stream", {"value": "ready"}          # tractor's started('ready')
    if func == "ctx_error_after_started":
        return "ctx_error_after_started", {"type_str": "KeyError"}
    if func in SVC_FUNCS:
        return func, kwargs
    return "no_such_function", kwargs


# Replies that differ because the service differs, not the protocol:
# the recorded ctx_error_after_started sends started(1), ours started(nil).
def _rewrite_expected(func, msg):
    if func == "ctx_error_after_started" and isinstance(msg, dict) and "started" in msg:
        return dict(msg, started=None)
    return msg


class Recording:
    """One recorded trace: its entries, connections and the daemon's identity."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[:-len(".jsonl")]
        self.entries = normalize.load_trace(path)
        self.conns = []
        for e in self.entries:
            if e.get("conn") and e["conn"] not in self.conns:
                self.conns.append(e["conn"])
        self.server_uid = self.client_uid = None
        for e in self.entries:
            m = e.get("msg")
            if isinstance(m, list) and len(m) >= 2 and all(isinstance(x, str) for x in m[:2]):
                if e["dir"] == "s2c" and self.server_uid is None:
                    self.server_uid = m[:2]
                if e["dir"] == "c2s" and self.client_uid is None:
                    self.client_uid = m[:2]
        self.server_addr = self._server_addr()
        self.daemon_alive, self.daemon_status = self._daemon_end()

    def _server_addr(self):
        for e in self.entries:
            m = e.get("msg")
            if e.get("dir") == "s2c" and isinstance(m, dict) \
                    and isinstance(m.get("return"), dict) and "$map" in m["return"]:
                for k, v in m["return"]["$map"]:
                    if k == self.server_uid:
                        return v
        return ["127.0.0.1", 17616]

    def _daemon_end(self):
        """Whether the daemon survived the client, from the recorder's last log line."""
        log = os.path.join(os.path.dirname(self.path), "logs", self.name + ".server.log")
        try:
            with open(log, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            return True, None
        m = re.search(r"daemon alive after client: (True|False); exit code (-?\d+)", text)
        if not m:
            return True, None
        return m.group(1) == "True", int(m.group(2))

    def of(self, conn):
        return [e for e in self.entries if e.get("conn") == conn]

    def commands(self):
        return [e["msg"]["cmd"] for e in self.entries if e.get("dir") == "c2s"
                and isinstance(e.get("msg"), dict) and isinstance(e["msg"].get("cmd"), list)]

    def uses_registry(self):
        return any(len(c) == 5 and c[0] == "self" and c[1] in REGISTRY_METHODS
                   for c in self.commands())

    def cancels_actor(self):
        return any(len(c) == 5 and c[0] == "self" and c[1] == "cancel" for c in self.commands())


class Identity:
    """The IUT's identity next to the recorded daemon's, for mapping both ways."""

    def __init__(self, rec, iut_uid, iut_addr):
        self.rec_uid = list(rec.server_uid or ["arbiter", ""])
        self.rec_addr = list(rec.server_addr)
        self.iut_uid = list(iut_uid)
        self.iut_addr = list(iut_addr)

    def to_iut(self, v):
        """A c2s value with the daemon's identity replaced by the IUT's."""
        if isinstance(v, list):
            if v == self.rec_uid:
                return list(self.iut_uid)
            return [self.to_iut(x) for x in v]
        if isinstance(v, dict):
            return {k: self.to_iut(x) for k, x in v.items()}
        return v

    def to_recorded(self, v):
        """A JSON view of an IUT message with the IUT's identity replaced by the daemon's."""
        if isinstance(v, list):
            if v == self.iut_uid:
                return list(self.rec_uid)
            if v == self.iut_addr:
                return list(self.rec_addr)
            return [self.to_recorded(x) for x in v]
        if isinstance(v, dict):
            return {k: self.to_recorded(x) for k, x in v.items()}
        return v


def _from_view(v):
    """A Python value to send, from the JSON view of a recorded message."""
    if isinstance(v, list):
        return [_from_view(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"$bin"}:
            return bytes.fromhex(v["$bin"])
        if set(v) == {"$map"}:
            return {_key(_from_view(k)): _from_view(x) for k, x in v["$map"]}
        return {k: _from_view(x) for k, x in v.items()}
    return v


def _key(k):
    return tuple(_key(x) for x in k) if isinstance(k, list) else k


def cid_of(view):
    if isinstance(view, dict) and isinstance(view.get("cid"), str):
        return view["cid"]
    return "-"


def _collapse_stops(seq):
    out = []
    for m in seq:
        if out and isinstance(m, dict) and "stop" in m and out[-1] == m:
            continue
        out.append(m)
    return out


class ConnResult:
    def __init__(self, rec_conn, name):
        self.rec_conn = rec_conn
        self.name = name             # the suite's connection name in the wire log
        self.expected = []           # recorded s2c JSON views (mapped), in order
        self.got = []                # the IUT's messages as JSON views (mapped back), in order
        self.skipped = []            # reasons
        self.closed = None
        self.usable = None           # with probe: whether the connection still answered an echo
        self.client_eof = False
        self.diffs = []


class Replayer:
    """Plays the client side of one recording against the IUT."""

    def __init__(self, rec, factory, *, target=None, registry=True, prompt=2.0, timeout=5.0,
                 profile="strict", stop_after=None, probe=False, shared=False):
        self.rec = rec
        self.factory = factory
        self.target = target
        self.registry = registry
        self.prompt = prompt
        self.timeout = timeout
        self.profile = profile
        self.stop_after = stop_after     # index into rec.entries after which to stop sending
        self.probe = probe               # echo on each connection the IUT left open
        # A registry other cases use too may hold entries they left (REG-9):
        # then get_registry answers are compared on the recording's uids only.
        self.shared = shared
        self.results = []
        self.notes = []
        self.side = []                   # side registrations to undo: uid lists
        # One uid for every side connection: a registry may let only the
        # uid that registered an entry remove it (REG-15).
        self.side_uuid = str(uuid.uuid4())
        self.identity = None

    # --- set-up ------------------------------------------------------------

    def _side_conn(self):
        return self.factory(target=self.target, name="scwire-replay-side", uuid=self.side_uuid)

    def _side_call(self, func, **kwargs):
        c = self._side_conn()
        try:
            return c.call("self", func, kwargs, timeout=self.timeout)
        finally:
            c.close()

    def _learn_identity(self):
        c = self._side_conn()
        uid = c.peer_uid
        c.close()
        t = self.target
        self.identity = Identity(self.rec, uid, [t.host, t.port])

    def _registered_in_trace(self):
        names = set()
        for cmd in self.rec.commands():
            if len(cmd) == 5 and cmd[:2] == ["self", "register_actor"] and isinstance(cmd[2], dict):
                uid = cmd[2].get("uid")
                if isinstance(uid, list) and uid:
                    names.add(tuple(uid[:2]))
        return names

    def _pre_register(self):
        """Entries of recorded get_registry answers that nobody registers in the trace."""
        known = self._registered_in_trace() | {tuple(self.rec.server_uid or ())}
        done = set()
        for e in self.rec.entries:
            m = e.get("msg")
            if e.get("dir") != "s2c" or not isinstance(m, dict) \
                    or not isinstance(m.get("return"), dict) or "$map" not in m["return"]:
                continue
            for k, v in m["return"]["$map"]:
                if not isinstance(k, list) or tuple(k) in known or tuple(k) in done:
                    continue
                r = self._side_call("register_actor", uid=k, sockaddr=v)
                if r.kind != "return":
                    raise Violation(f"registering {k} (an actor the trace only shows in answers) "
                                    f"failed: {short(r.final)}")
                done.add(tuple(k))
                self.side.append(k)
                self.notes.append(f"registered {k[0]} at {v[0]}:{v[1]} first (the trace only "
                                  f"shows it in a get_registry answer)")

    def _late_registration(self, cmd, entries, index):
        """For a wait_for_actor whose name nobody registered: the addresses it was answered."""
        if not (len(cmd) == 5 and cmd[:2] == ["self", "wait_for_actor"]):
            return None
        name = cmd[2].get("name") if isinstance(cmd[2], dict) else None
        if name is None or name == (self.rec.server_uid or [None])[0]:
            return None
        if any(u[0] == name for u in self._registered_in_trace()) \
                or any(u[0] == name for u in self.side):
            return None
        for e in entries[index + 1:]:
            m = e.get("msg")
            if e.get("dir") == "s2c" and isinstance(m, dict) and m.get("cid") == cmd[4] \
                    and "return" in m and isinstance(m["return"], list):
                return name, m["return"]
        return None

    def _recorded_uids(self):
        """Every uid the recording mentions in a registry answer or registration."""
        uids = [list(self.rec.server_uid or [])]
        for e in self.rec.entries:
            m = e.get("msg")
            if not isinstance(m, dict):
                continue
            if isinstance(m.get("return"), dict) and "$map" in m["return"]:
                uids += [k for k, _ in m["return"]["$map"]]
            cmd = m.get("cmd")
            if isinstance(cmd, list) and len(cmd) == 5 and isinstance(cmd[2], dict) \
                    and isinstance(cmd[2].get("uid"), list):
                uids.append(cmd[2]["uid"])
        return uids

    def cleanup(self):
        for uid in self.side:
            try:
                self._side_call("unregister_actor", uid=uid)
            except (Violation, Closed, Timeout, OSError):
                pass
        self.side = []

    # --- the replay --------------------------------------------------------

    def run(self):
        self._learn_identity()
        if self.registry:
            self._pre_register()
        for rc in self.rec.conns:
            if self._replay_conn(rc) == "stop":
                break
        return self.results

    def _plan_message(self, view, skipped_cids):
        """The message to send for a recorded c2s view, or (LEAVE_OUT, reason)."""
        if isinstance(view, dict) and isinstance(view.get("cmd"), list) and len(view["cmd"]) == 5:
            ns, func, kwargs, uid, cid = view["cmd"]
            if ns == "svc":
                if func in NO_COUNTERPART:
                    skipped_cids[cid] = NO_COUNTERPART[func]
                    return LEAVE_OUT, NO_COUNTERPART[func]
                nfunc, nkw = _map_func(func, kwargs if isinstance(kwargs, dict) else {})
                return {"cmd": [SERVICE, nfunc, _from_view(nkw), _from_view(uid), cid]}, func
            if ns == "self" and func in REGISTRY_METHODS and not self.registry:
                why = (f"self.{func}: the IUT is no registry (run with --iut-registry, or let "
                       f"the suite start scwire-ref with --registry-role)")
                skipped_cids[cid] = why
                return LEAVE_OUT, why
            if ns == "self" and func in ("find_actor", "wait_for_actor") and \
                    isinstance(kwargs, dict) and self.rec.server_uid \
                    and kwargs.get("name") == self.rec.server_uid[0]:
                kwargs = dict(kwargs, name=self.identity.iut_uid[0])
            return {"cmd": [ns, func, _from_view(self.identity.to_iut(kwargs)), _from_view(uid),
                            cid]}, func
        if cid_of(view) in skipped_cids:
            return LEAVE_OUT, skipped_cids[cid_of(view)]
        return _from_view(view), None

    def _replay_conn(self, rc):
        entries = self.rec.of(rc)
        sends = [e for e in entries if e.get("dir") == "c2s"
                 and ("msg" in e or e.get("event") == "decode_error")]
        c = self.factory(target=self.target, handshake=False)
        res = ConnResult(rc, c.name)
        self.results.append(res)
        if not sends:
            c.close()           # a connect-and-drop probe, like the recorded client's
            res.skipped.append("connect-and-drop: nothing to compare")
            return None
        skipped_cids, funcs = {}, {}
        got_by_cid = {}
        late = []
        stop = False

        def take(timeout):
            m = c.recv(timeout=timeout)
            v = self.identity.to_recorded(json_view(m))
            if self.shared and isinstance(v, dict) and funcs.get(v.get("cid")) == "get_registry" \
                    and isinstance(v.get("return"), dict) and "$map" in v["return"]:
                mine = self._recorded_uids()
                v = dict(v, **{"return": {"$map": [kv for kv in v["return"]["$map"]
                                                   if kv[0] in mine]}})
            res.got.append(v)
            got_by_cid.setdefault(cid_of(v), []).append(v)

        def wait_for(expected):
            """Read until the IUT's messages cover `expected` on every cid."""
            need = {}
            for v in expected:
                if v is not None:       # nil at the end of a channel is optional
                    need.setdefault(cid_of(v), []).append(v)
            deadline = time.monotonic() + self.prompt
            while True:
                short_of = [k for k, vs in need.items()
                            if len(_collapse_stops([v for v in got_by_cid.get(k, [])
                                                    if v is not None]))
                            < len(_collapse_stops(vs))]
                if not short_of or c.closed:
                    return
                try:
                    take(max(0.001, deadline - time.monotonic()))
                except (Timeout, Closed):
                    return
                except Violation as e:
                    res.diffs.append(str(e))
                    return

        expected_so_far = []
        server_ended = False
        for i, e in enumerate(entries):
            if e.get("event") in ("eof", "rst") and e.get("dir") == "s2c":
                server_ended = True
                continue
            if self.stop_after is not None and e is self.rec.entries[self.stop_after]:
                stop = True
            if e.get("dir") == "s2c" and "msg" in e:
                v = e["msg"]
                if cid_of(v) in skipped_cids:
                    continue
                v = _rewrite_expected(funcs.get(cid_of(v)), v)
                res.expected.append(v)
                expected_so_far.append(v)
                continue
            if e.get("event") == "eof" and e.get("dir") == "c2s":
                if server_ended:
                    continue        # the client only answered the daemon's close
                wait_for(expected_so_far)
                res.client_eof = True
                try:
                    c.shutdown_write()
                except OSError:
                    pass
                continue
            if e.get("dir") != "c2s":
                continue
            wait_for(expected_so_far)
            if e.get("event") == "decode_error":
                raw = bytes.fromhex(e["hex"])
                try:
                    c.send_body(raw, note="bytes the recorded daemon could not decode")
                except (Closed, Timeout, OSError):
                    break
                continue
            view = e["msg"]
            obj, func = self._plan_message(view, skipped_cids)
            if obj is LEAVE_OUT:
                if func and func not in res.skipped:
                    res.skipped.append(func)
                continue
            if isinstance(view, dict) and isinstance(view.get("cmd"), list):
                funcs[view["cmd"][4]] = view["cmd"][1]
            if isinstance(view, list) and c.uid is None:
                c.uid = tuple(view[:2])
            try:
                c.send(obj)
            except (Closed, Timeout, OSError):
                break
            lr = self._late_registration(view.get("cmd") or [] if isinstance(view, dict) else [],
                                         entries, i)
            if lr:
                name, addrs = lr
                wait_for(expected_so_far)
                for a in addrs:
                    uid = [name, new_cid()]
                    r = self._side_call("register_actor", uid=uid, sockaddr=a)
                    if r.kind == "return":
                        self.side.append(uid)
                        late.append(uid)
                        self.notes.append(f"registered {name} at {a[0]}:{a[1]} from a side "
                                          f"connection while wait_for_actor({name!r}) waited")
            if stop:
                break
        # The rest: whatever the IUT sends until it closes (or stays quiet).
        wait_for(res.expected)
        end = time.monotonic() + (self.prompt if (res.client_eof or stop) else 0.2)
        while not c.closed and time.monotonic() < end:
            try:
                take(max(0.001, end - time.monotonic()))
            except (Timeout, Closed):
                break
            except Violation as e:
                res.diffs.append(str(e))
                break
        res.closed = c.closed
        if self.probe and not c.closed:
            token = "replay-probe " + new_cid()
            try:
                r = c.call(SERVICE, "echo", value=token, timeout=self.prompt)
                res.usable = r.kind == "return" and r.value == token
            except (Violation, Closed, Timeout, OSError):
                res.usable = False
            for m in c.unread():
                res.got.append(self.identity.to_recorded(json_view(m)))
            res.closed = c.closed
        c.close()
        for uid in late:
            try:
                self._side_call("unregister_actor", uid=uid)
                self.side.remove(uid)
            except (Violation, Closed, Timeout, OSError, ValueError):
                pass
        return "stop" if stop else None


def compare(res, profile="strict"):
    """Differences between what the IUT sent and what the daemon sent on one connection,
    per cid, normalized; empty when they agree (for the profile)."""
    def groups(seq):
        g = {}
        for v in seq:
            g.setdefault(cid_of(v), []).append(v)
        return g
    exp, got = groups(res.expected), groups(res.got)
    diffs = []
    for key in list(exp) + [k for k in got if k not in exp]:
        e, g = exp.get(key, []), got.get(key, [])
        if key == "-":
            # nil after the end of a channel is optional (the two recording sets
            # differ on it); the rest (the uid) must agree.
            e = [v for v in e if v is not None]
            g = [v for v in g if v is not None]
        if profile != "tractor":
            e, g = _collapse_stops(e), _collapse_stops(g)
        ne = normalize.messages(normalize.normalize(
            [{"conn": "x", "dir": "s2c", "msg": v} for v in e], tb="drop"))
        ng = normalize.messages(normalize.normalize(
            [{"conn": "x", "dir": "s2c", "msg": v} for v in g], tb="drop"))
        d = normalize.diff(ne, ng)
        if d:
            name = "handshake and channel end" if key == "-" else f"cid {key}"
            diffs.append(f"{res.rec_conn}/{name}: " + "; ".join(d))
    return diffs


def stop_counts(res):
    """{cid: (recorded stops, IUT stops)} where either sent more than one stop."""
    out = {}
    for seq, i in ((res.expected, 0), (res.got, 1)):
        for v in seq:
            if isinstance(v, dict) and "stop" in v:
                pair = out.setdefault(v.get("cid"), [0, 0])
                pair[i] += 1
    return {k: tuple(v) for k, v in out.items() if max(v) > 1}


def recordings(vectors_dir):
    """The .jsonl recordings in vectors_dir, sorted by name."""
    try:
        names = sorted(n for n in os.listdir(vectors_dir) if n.endswith(".jsonl"))
    except OSError:
        return []
    return [os.path.join(vectors_dir, n) for n in names]


def describe(seq, limit=8):
    return ", ".join(json.dumps(v, sort_keys=True)[:120] for v in seq[:limit]) + \
        (f" and {len(seq) - limit} more" if len(seq) > limit else "")

