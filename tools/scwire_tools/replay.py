# SPDX-License-Identifier: AGPL-3.0-or-later
"""Replay the client side of one recorded connection and compare the replies.

The recorded connection is cut into steps at every c2s action (a message,
raw bytes, a FIN or a RST).  Each step sends its action to the live target and
then collects replies until it has as many messages as the recording has
before the next action (and the end of the stream when the recording has it
there), or until no reply came for `timeout` seconds.

What is sent is the recorded message with the random parts replaced: our uid
for the recorded client's uid (its first message, when that is a uid), a
fresh uuid4 for every recorded cid the client chose, the live peer's values
for cids and uuids the peer chose (learnt by position from the replies),
and, with `map_ns`, other namespace names in `cmd`.  Both runs are then
normalized (normalize.py) with the same names for corresponding values and
compared as text transcripts, one line per message or event.
"""
import difflib
import uuid as uuidlib

from . import ToolError
from .classify import cancel_target
from .client import Client, is_uid
from .jsonview import ViewError, from_json, to_json
from .normalize import Normalizer, line


def pick_conn(entries, conn=None, name="trace"):
    """The conn to replay: the given one, else the first with a c2s message after its uid."""
    order = []
    for e in entries:
        if e.get("conn") not in order:
            order.append(e.get("conn"))
    if conn is not None:
        if conn not in order:
            raise ToolError(f"{name}: no connection {conn!r} (connections: {', '.join(order)})")
        return conn
    seen = set()
    for e in entries:
        if e.get("dir") == "c2s" and "event" not in e:
            if e["conn"] in seen:
                return e["conn"]
            seen.add(e["conn"])
    raise ToolError(f"{name}: no connection has a c2s message after the handshake; "
                    f"choose one with --conn")


class Step:
    def __init__(self, action):
        self.action = action      # a recorded c2s entry, or None before the first one
        self.expected = []        # recorded s2c entries up to the next action


def build_steps(entries, conn):
    steps = [Step(None)]
    for e in entries:
        if e.get("conn") != conn or e.get("event") in ("open", "close"):
            continue
        if e.get("dir") == "c2s":
            steps.append(Step(e))
        elif e.get("dir") == "s2c":
            steps[-1].expected.append(e)
    return steps


def _is_end(e):
    return e.get("event") in ("eof", "rst")


def _cid_positions(msg):
    """The cids a message names: top-level cid, cmd item 5, _cancel_task's kwarg."""
    out = []
    if isinstance(msg, dict):
        if isinstance(msg.get("cid"), str):
            out.append(msg["cid"])
        cmd = msg.get("cmd")
        if isinstance(cmd, list) and len(cmd) == 5 and isinstance(cmd[4], str):
            out.append(cmd[4])
        t = cancel_target(msg)
        if t:
            out.append(t)
    return out


class Replay:
    def __init__(self, entries, conn, target, codec="msgpack", name=None, map_ns=None,
                 tb="type", peer_name=False, unordered=False, timeout=1.0,
                 connect_timeout=5.0, recorder=None, source="trace"):
        self.steps = build_steps(entries, conn)
        self.conn = conn
        self.target = target
        self.codec = codec
        self.map_ns = map_ns or {}
        self.unordered = unordered
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.recorder = recorder
        self.source = source
        self.rec_norm = Normalizer(tb=tb, peer_name=peer_name)
        self.live_norm = Normalizer(tb=tb, peer_name=peer_name)
        self.subst = {}           # recorded str -> live str
        self.ncid = 0
        self.rec_uid = None
        first = next((s.action for s in self.steps if s.action is not None), None)
        if first is not None and "event" not in first and is_uid(first.get("msg")):
            self.rec_uid = first["msg"][:2]
        default = self.rec_uid[0] if self.rec_uid else "scwire-send"
        self.uid = [name or default, str(uuidlib.uuid4())]
        if self.rec_uid:
            self.subst[self.rec_uid[1]] = self.uid[1]
            self.rec_norm.seed_uuid(self.rec_uid[1], "<our-uuid>")
            self.live_norm.seed_uuid(self.uid[1], "<our-uuid>")
        self.compared = 0
        self.peer_known = False

    # -- what to send ------------------------------------------------------------------

    def _pair(self, rec, live, cid):
        """Record that a recorded value and a live value correspond."""
        if rec in self.subst:
            return
        self.subst[rec] = live
        if cid:
            self.ncid += 1
            label = f"<cid{self.ncid}>"
            self.rec_norm.seed_cid(rec, label)
            self.live_norm.seed_cid(live, label)

    def _rewrite(self, v):
        if isinstance(v, str):
            return self.subst.get(v, v)
        if isinstance(v, list):
            if self.rec_uid and v == self.rec_uid:
                return list(self.uid)
            return [self._rewrite(x) for x in v]
        if isinstance(v, dict):
            return {self._rewrite(k): self._rewrite(x) for k, x in v.items()}
        return v

    def outgoing(self, msg, first):
        """The JSON view to send for a recorded c2s message."""
        if first and is_uid(msg):
            return list(self.uid)
        for c in _cid_positions(msg):
            if c not in self.subst:
                self._pair(c, str(uuidlib.uuid4()), cid=True)
        out = self._rewrite(msg)
        if isinstance(out, dict) and isinstance(out.get("cmd"), list) and out["cmd"] \
                and out["cmd"][0] in self.map_ns:
            out["cmd"] = [self.map_ns[out["cmd"][0]]] + out["cmd"][1:]
        return out

    def _ns_mapped(self, msg):
        if isinstance(msg, dict) and isinstance(msg.get("cmd"), list) and msg["cmd"] \
                and msg["cmd"][0] in self.map_ns:
            return dict(msg, cmd=[self.map_ns[msg["cmd"][0]]] + msg["cmd"][1:])
        return msg

    # -- what came back -----------------------------------------------------------------

    def _learn(self, expected, got):
        """Pair the peer's random values in the recording with the live ones, by position."""
        rec = [e.get("msg") for e in expected if "event" not in e and not e.get("raw")]
        live = [g[3] for g in got if g[0] == "msg"]
        for r, l in zip(rec, live):
            if not self.peer_known and is_uid(r) and is_uid(l):
                # The first uid each way is the peer's: its uuid is random per run.
                self.peer_known = True
                self.subst.setdefault(r[1], l[1])
                self.rec_norm.seed_uuid(r[1], "<peer-uuid>")
                self.live_norm.seed_uuid(l[1], "<peer-uuid>")
            for rc, lc in zip(_cid_positions(r), _cid_positions(l)):
                if rc not in self.subst:
                    self._pair(rc, lc, cid=True)

    def _collect(self, client, step):
        want = sum(1 for e in step.expected if "event" not in e)
        want_end = any(_is_end(e) for e in step.expected)
        got = []
        n = 0
        while n < want or (want_end and not client.closed):
            item = client.recv(self.timeout)
            if item[0] == "timeout":
                break
            if item[0] == "msg":
                got.append(("msg", item[1], item[2], _view(item[1])))
                n += 1
            else:
                got.append(item)
                break
        return got

    # -- transcripts ---------------------------------------------------------------------

    def _action_line(self, action, sent_view):
        if "event" in action and action["event"] != "decode_error":
            return f"c2s {action['event'].upper()}"
        if sent_view is None:
            return f"c2s raw {action.get('hex', '')}"
        return "c2s " + line(self.live_norm.norm(sent_view))

    def _rec_lines(self, expected):
        out = []
        for e in expected:
            if "event" in e:
                ev = e["event"]
                out.append(f"s2c {ev.upper()}" if ev in ("eof", "rst") else f"s2c {ev}")
            elif e.get("raw") or "msg" not in e:
                out.append(f"s2c raw {e.get('hex', '')}")
            else:
                out.append("s2c " + line(self.rec_norm.norm(e["msg"])))
        return out

    def _live_lines(self, got):
        out = []
        for g in got:
            if g[0] == "msg":
                out.append("s2c " + line(self.live_norm.norm(g[3])))
            else:
                out.append(f"s2c {g[0].upper()}")
        return out

    def run(self):
        """Replay; returns (recorded lines, live lines)."""
        rec_lines, live_lines = [], []
        client = Client(self.target, self.codec, self.connect_timeout, self.recorder)
        first_msg = True
        stopped = None
        try:
            for step in self.steps:
                a = step.action
                if a is not None:
                    if stopped is None and client.closed:
                        stopped = "the peer closed the connection"
                        live_lines.append(f"!! replay stopped: {stopped}")
                    sent_view = None
                    if "event" in a and a["event"] != "decode_error":
                        if stopped is None:
                            (client.shutdown_write if a["event"] == "eof" else client.reset)()
                    elif "event" in a or a.get("raw") or "msg" not in a:
                        if stopped is None:
                            client.send_raw(bytes.fromhex(a.get("hex", "")))
                    else:
                        sent_view = self.outgoing(a["msg"], first_msg)
                        first_msg = False
                        # Same counters on both sides: the recorded normalizer sees
                        # the recorded message as the live one sees the sent one.
                        self.rec_norm.norm(self._ns_mapped(a["msg"]))
                        if stopped is None:
                            try:
                                client.send(from_json(sent_view))
                            except ViewError as e:
                                where = f"{self.source}:{a.get('_line', '?')}"
                                raise ToolError(f"{where}: {e}") from None
                    text = self._action_line(a, sent_view)
                    rec_lines.append(text)
                    if stopped is None:
                        live_lines.append(text)
                    if a.get("event") == "rst":
                        stopped = stopped or "we reset the connection"
                got = [] if stopped else self._collect(client, step)
                self._learn(step.expected, got)
                exp = self._rec_lines(step.expected)
                live = self._live_lines(got)
                self.compared += len(exp)
                if self.unordered:
                    exp, live = sorted(exp), sorted(live)
                rec_lines += exp
                live_lines += live
            if stopped is None and not client.closed:
                # Anything the peer still sends is a difference too; give it a moment.
                extra = []
                while True:
                    item = client.recv(min(self.timeout, 0.25))
                    if item[0] == "timeout":
                        break
                    if item[0] == "msg":
                        item = ("msg", item[1], item[2], _view(item[1]))
                    extra.append(item)
                    if item[0] != "msg":
                        break
                live_lines += self._live_lines(extra)
        finally:
            client.close()
        return rec_lines, live_lines

    def report(self, rec_lines, live_lines, label_rec, label_live):
        """Unified-diff lines (empty when the runs are equal)."""
        return list(difflib.unified_diff(rec_lines, live_lines, fromfile=label_rec,
                                         tofile=label_live, lineterm="", n=3))


def _view(value):
    return to_json(value)
