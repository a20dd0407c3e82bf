# SPDX-License-Identifier: AGPL-3.0-or-later
"""Blast radius of hostile input (protocol.md section 13, SEC-1 and SEC-2).

A hostile case sends its bad input inside `Hostile`:

    with hostile(allowed=(CLOSED,), tractor=DOWN) as h:
        c = h.conn()                      # a connection for the hostile input
        c.send_body(b"\\xc1")
        h.check(lambda: ...)              # row checks, run after the grading

`Hostile` makes the case look like a tlsfuzzer conversation: a sanity echo on
a fresh connection first; then a *bystander*, a second channel whose ctx_echo
context streams sequence-numbered `yield`s (one every few ms, from a thread)
and reads their echoes, for the whole time the hostile bytes go in; then the
outcome is graded:

- *served*: the input was taken as valid (a bad uid accepted as a uid, a
  valid but heavy request answered) and the connection still answers;
- *message rejected*: the hostile connection still answers an echo call;
- *connection closed*: the IUT ended the hostile connection (EOF or RST);
- *connection hung*: the hostile connection neither answers nor closes;
- *actor down*: the IUT process died, a fresh connection is refused or not
  served, or the bystander's connection was cut.

A hostile connection the IUT closed, or whose message it dropped without a
reply, must have a record on the IUT's stderr that names it (test-service.md
SVC-30: *log a reason*, *drop with a warning*), when the suite started the IUT.

Actor down is always a failure (SEC-1), and so is a hostile connection left
hung when the spec does not allow it.  The bystander must see every echo, in
order, with no gap, none later than "promptly" (SEC-2), and its context must
end with the right count.  These are failures of robustness: every profile
fails them.  A grade the spec does not allow is a failure of the requirement
the allowed grades come from (`rid`), which the `tractor` profile turns into
NON-STRICT where spec/profiles.md lists tractor 0.1.0a4 doing otherwise; the
observation names what tractor does.  A sanity echo on a fresh connection
closes the case.
"""
import os
import threading
import time

from . import iutlog, msgs
from .msgs import new_cid
from .verdict import Violation, info, must, robust
from .wire import SERVICE, Closed, Timeout
from .wirelog import WireLog, short

SERVED = "served"
REJECTED = "message rejected"
CLOSED = "connection closed"
HUNG = "connection hung"
DOWN = "actor down"
GRADES = (SERVED, REJECTED, CLOSED, HUNG, DOWN)

BYSTANDER_INTERVAL = 0.005   # seconds between two of the bystander's yields
AFTER_ECHOES = 3             # echoes the bystander must see after the hostile input


class Bystander:
    """A channel streaming numbered yields through ctx_echo from a thread."""

    def __init__(self, conn, *, interval=BYSTANDER_INTERVAL, prompt=2.0):
        self.conn = conn
        self.interval = interval
        self.prompt = prompt
        self.ctx_cid = None
        self.sent = 0
        self.echoed = 0
        self.sent_at = {}
        self.worst = 0.0
        self.problems = []
        self.cut = None            # "eof"/"rst" when the IUT ended the bystander's connection
        self.final = None          # the context's final message
        self._stop_sending = False
        self._abandon = False
        self._drain_deadline = None
        self._lock = threading.Lock()
        self._thread = None

    def start(self):
        ctx = self.conn.open_context(SERVICE, "ctx_echo", first="bystander")
        self.ctx_cid = ctx.cid
        self._thread = threading.Thread(target=self._run, name="bystander", daemon=True)
        self._thread.start()
        return self

    def _problem(self, text):
        with self._lock:
            self.problems.append(text)

    def _run(self):
        c, cid = self.conn, self.ctx_cid
        next_send = time.monotonic()
        try:
            while not self._abandon:
                now = time.monotonic()
                with self._lock:
                    stopping = self._stop_sending
                    deadline = self._drain_deadline
                if not stopping and now >= next_send:
                    c.send({"yield": self.sent, "cid": cid})
                    self.sent_at[self.sent] = time.monotonic()
                    with self._lock:
                        self.sent += 1
                    next_send = now + self.interval
                now = time.monotonic()
                if stopping and self.echoed >= self.sent:
                    break
                if stopping and now > deadline:
                    self._problem(f"{self.sent - self.echoed} of {self.sent} echoes missing "
                                  f"{self.prompt:g} s after the last yield")
                    return
                wait = (deadline - now) if stopping else max(0.0005, next_send - now)
                try:
                    m = c.recv(timeout=wait)
                except Timeout:
                    self._check_overdue()
                    continue
                if msgs.yield_(cid, self.echoed)(m):
                    took = time.monotonic() - self.sent_at.pop(self.echoed)
                    self.worst = max(self.worst, took)
                    with self._lock:
                        self.echoed += 1
                    continue
                self._problem(f"expected the echo of yield {self.echoed}; observed {short(m)}")
                return
            if self._abandon:
                return
            self._end_context()
        except Closed as e:
            self.cut = e.how
            self._problem(f"the IUT closed the bystander's connection ({e.how}) after "
                          f"{self.echoed} of {self.sent} echoes")
        except Violation as e:        # the IUT sent bytes that do not decode
            self._problem(str(e))
        except (Timeout, OSError) as e:
            if not self._abandon:
                self._problem(f"{type(e).__name__}: {e}")

    def _check_overdue(self):
        first = self.sent_at.get(self.echoed)
        if first is not None and time.monotonic() - first > self.prompt:
            # Reported once at the end, through `worst`; keep waiting.
            self.worst = max(self.worst, time.monotonic() - first)

    def _end_context(self):
        c, cid = self.conn, self.ctx_cid
        c.send({"stop": True, "cid": cid})
        deadline = time.monotonic() + self.prompt
        while True:
            m = c.recv_for(cid, timeout=max(0.001, deadline - time.monotonic()))
            k = msgs.kind(m)
            if k == "stop":
                continue
            self.final = m
            if not msgs.ret(cid, self.sent)(m):
                self._problem(f"the bystander's context ended with {short(m)}, not return "
                              f"{self.sent}")
            return

    def mark(self):
        with self._lock:
            return self.echoed

    def finish(self, after=AFTER_ECHOES):
        """Stop after `after` more echoes, wait for the rest and for the context's return."""
        start = self.mark()
        deadline = time.monotonic() + self.prompt
        while self._thread.is_alive() and self.mark() < start + after \
                and time.monotonic() < deadline:
            time.sleep(self.interval)
        with self._lock:
            self._stop_sending = True
            self._drain_deadline = time.monotonic() + self.prompt
        self._thread.join(2 * self.prompt + 1.0)
        if self._thread.is_alive():
            self._abandon = True
            self._problem("the bystander did not finish in time")
        if self.worst > self.prompt:
            self._problem(f"an echo took {self.worst:.2f} s, more than promptly "
                          f"({self.prompt:g} s)")
        return self

    def abandon(self):
        self._abandon = True
        if self._thread is not None:
            self._thread.join(1.0)

    def summary(self):
        return (f"{self.echoed} of {self.sent} yields echoed in order, slowest "
                f"{self.worst * 1000:.1f} ms")


class _Hostile:
    """One hostile connection, its label, and how it ended up."""

    def __init__(self, conn, label, usable, dropped=False, probe=True):
        self.conn = conn
        self.label = label
        self.usable = usable
        self.dropped = dropped
        self.probe = probe
        self.grade = None
        self.replies = []
        self.probe_cid = None


class Hostile:
    """The frame of a hostile case; see the module text."""

    def __init__(self, factory, settings, case, *, iut, target=None, allowed=(REJECTED, CLOSED),
                 tractor=None, log_dir=None, what=None, under_way=False,
                 limit_value=None, rid=None):
        for g in tuple(allowed) + ((tractor,) if tractor else ()):
            if g not in GRADES:
                raise ValueError(f"unknown grade {g!r}")
        self.factory = factory
        self.settings = settings
        self.case = case
        self.iut = target or iut
        self.target = target
        self.allowed = tuple(allowed)
        self.tractor = tractor
        self.rid = rid                  # the requirement the grades and row checks are about
        self.log_dir = log_dir
        self.what = what
        self.under_way = under_way     # the hostile input may act before the frame starts
        self.limit_value = limit_value  # the value of the limit the input crosses (SVC-30)
        self.hostiles = []
        self.checks = []
        self.bystander = None
        self.grade = None
        self.notes = []

    # --- inside the case ---------------------------------------------------

    def conn(self, handshake=True, label=None, usable=None, probe=True, **kw):
        """A new connection for hostile input; `usable` is the grade it gets when it
        still answers afterwards (by default decided when it is graded: message
        rejected once both uids were exchanged, by the factory or by the case,
        else served, the hostile bytes having been taken as a uid).  With
        probe=False it is not probed (it holds half a message, say) and gets its
        usable grade unless the IUT closed it."""
        c = self.factory(target=self.target, handshake=handshake, **kw)
        self.hostiles.append(_Hostile(c, label or c.name, usable, probe=probe))
        return c

    def grade_of(self, c):
        for h in self.hostiles:
            if h.conn is c:
                return h.grade
        raise ValueError(f"{c} is not a hostile connection of this case")

    def dropped(self, c):
        """The suite itself ended c on purpose (connect-and-drop, truncation)."""
        for h in self.hostiles:
            if h.conn is c:
                h.dropped = True

    def check(self, fn):
        """A row check, run after the grading when the grade is one the spec allows."""
        self.checks.append(fn)

    def note(self, text):
        self.notes.append(text)

    def replies(self, c):
        """What the IUT sent on hostile connection c besides the probe's answers
        (its uid excluded when the suite never handshook)."""
        for h in self.hostiles:
            if h.conn is c:
                return list(h.replies)
        raise ValueError(f"{c} is not a hostile connection of this case")

    # --- the frame ---------------------------------------------------------

    def _sanity(self, when):
        token = f"sanity {when} " + new_cid()
        try:
            c = self.factory(target=self.target)
            r = c.call(SERVICE, "echo", value=token, timeout=self.settings.prompt)
            c.close()
        except (Violation, Closed, Timeout, OSError) as e:
            return f"{type(e).__name__}: {e}"
        if r.kind != "return" or not msgs.same(r.value, token):
            return f"echo answered {short(r.final)}"
        return None

    def _early_failure(self, why):
        if self.under_way:
            # The hostile input (a misbehaving registry, say) acts from the start.
            return Violation(f"SEC-1: no input may bring the IUT down; observed grade "
                             f"{DOWN} before the bystander could start: {why}", rid="SEC-1",
                             robustness=True)
        return Violation(f"the sanity echo before the hostile input failed: {why}")

    def __enter__(self):
        self.log_mark = self.iut.mark() if getattr(self.iut, "managed", False) else None
        why = self._sanity("before")
        if why:
            raise self._early_failure(why)
        log = WireLog()
        try:
            c = self.factory(target=self.target, handshake=False, log=log,
                             conn_name="bystander", dump=False, chop=0)
            c.handshake("scwire-bystander")
            self.bystander_log = log
            self.bystander = Bystander(c, prompt=self.settings.prompt).start()
        except (Violation, Closed, Timeout, OSError) as e:
            raise self._early_failure(f"the bystander's channel: {type(e).__name__}: "
                                      f"{e}") from None
        self.case.wire_log.event("bystander", "open", ctx=self.bystander.ctx_cid)
        return self

    @staticmethod
    def _usable_grade(h):
        c = h.conn
        if h.usable:
            return h.usable
        return REJECTED if c.uid is not None and c.peer_uid is not None else SERVED

    def _probe(self, h):
        """Grade of one hostile connection: its usable grade, closed or hung."""
        c = h.conn
        if h.dropped or c.local_closed:
            return SERVED
        h.usable = self._usable_grade(h)
        if not h.probe:
            closed = c.closed or c.closed_within(0.05)
            got = list(c.drained) + c.unread()
            h.replies = [m for m in got if not (h.usable == SERVED and msgs.is_uid(m))]
            return CLOSED if closed else h.usable
        token = "probe " + new_cid()
        try:
            h.probe_cid = c.command(SERVICE, "echo", {"value": token})
            r = c.result(h.probe_cid, timeout=self.settings.prompt)
        except (Violation, Closed, Timeout, OSError):
            r = None
        got = c.unread()
        if r is None and not c.closed and c.closed_within(0.05):
            got = list(c.drained)
        h.replies = [m for m in got if not (h.usable == SERVED and msgs.is_uid(m))]
        if r is None:
            return CLOSED if c.closed else HUNG
        if r.kind == "return" and msgs.same(r.value, token):
            return h.usable
        return HUNG

    def _down_reasons(self):
        why = []
        iut = self.iut
        if getattr(iut, "managed", False):
            rc = iut.proc.poll() if iut.proc is not None else None
            if rc is not None:
                why.append(f"the IUT process exited with status {rc}")
        if self.bystander.cut:
            why.append(f"the bystander's connection was cut ({self.bystander.cut})")
        if not why:
            s = self._sanity("after")
            if s:
                why.append(f"the sanity echo on a fresh connection failed: {s}")
        return why

    def _expected_text(self):
        spec = " or ".join(self.allowed)
        tr = self.tractor or "not recorded"
        return f"the spec allows {spec}; tractor 0.1.0a4: {tr}"

    def __exit__(self, et, ev, tb):
        if et is not None and not issubclass(et, (Violation, Closed, Timeout, OSError)):
            self.bystander.abandon()
            return False
        if et is not None and issubclass(et, (Closed, Timeout, OSError)):
            # The IUT stopped taking our bytes or closed while we sent: that is
            # part of the outcome, graded below.
            self.note(f"while sending: {et.__name__}: {ev}")
            et = ev = None
        for h in self.hostiles:
            h.grade = self._probe(h)
        self.bystander.finish()
        down = self._down_reasons()
        grades = [h.grade for h in self.hostiles] or [SERVED]
        self.grade = DOWN if down else max(grades, key=GRADES.index)
        if down and getattr(self.iut, "managed", False) and self.iut.proc is not None \
                and self.iut.proc.poll() is None:
            # A dying IUT may take a while to exit; let it, so that the next case
            # finds it dead and restarted rather than refusing connections.
            rc = self.iut.wait_exit(self.settings.timeout)
            self.note(f"the IUT exited with status {rc} afterwards" if rc is not None else
                      f"the IUT process still runs {self.settings.timeout:g} s later")
        self._dump_bystander()
        text = self._observation(down)
        # The IUT down, a connection hung, the bystander hurt: failures of
        # robustness, which no profile excuses and which outrank a row check
        # that failed inside the body.
        robust(not down, f"SEC-1: no input may bring the IUT down; observed {text}")
        robust(not self.bystander.problems,
               f"SEC-2: the bystander was hurt: {'; '.join(self.bystander.problems)} [{text}]",
               rid="SEC-2")
        for h in self.hostiles:
            robust(h.grade != HUNG or HUNG in self.allowed,
                   f"{h.label}: the connection hung, neither answering nor closed [{text}]")
        if ev is not None:
            # A row check inside the body failed; say what the blast radius was.
            ev.msg = f"{ev.msg} [{text}]"
            ev.args = (ev.msg,)
            ev.rid = ev.rid or self.rid
            return False
        for h in self.hostiles:
            must(h.grade in self.allowed,
                 f"{h.label}: expected {' or '.join(self.allowed)}; observed {h.grade} [{text}]",
                 rid=self.rid)
        self._check_records()
        try:
            for fn in self.checks:
                fn()
        except Violation as e:
            e.rid = e.rid or self.rid
            raise
        info(text)
        return False

    def _messages(self, h, direction):
        return [e["msg"] for e in self.case.wire_log.entries
                if e.get("conn") == h.conn.name and e.get("dir") == direction and "msg" in e]

    def _answered(self, h):
        """Whether the IUT sent anything on h besides its uid and the probe's answer."""
        return any(isinstance(m, dict) and m.get("cid") != h.probe_cid
                   for m in self._messages(h, h.conn.in_dir))

    def _ended_by_nil(self, h):
        """Whether the case sent nil on h: a close then ends the channel as CAN-1
        says, with no reason to log."""
        return any(m is None for m in self._messages(h, h.conn.out_dir))

    def _check_records(self):
        """SVC-30 for every hostile connection the IUT closed, or whose input it
        dropped without a word on the wire."""
        for h in self.hostiles:
            if h.dropped or self._ended_by_nil(h):
                continue
            value = None
            if h.grade == CLOSED:
                what, value = f"closing {h.label}", self.limit_value
            elif h.grade == REJECTED and not self._answered(h):
                what = f"dropping the message of {h.label} (a warning)"
            else:
                continue
            iutlog.must_log(self.iut, self.log_mark, iutlog.conn_names(h.conn), what, value)

    def _observation(self, down):
        if len(self.hostiles) > 1:
            grades = "; ".join(f"{h.label}: {h.grade}" for h in self.hostiles)
            head = f"grade {self.grade} ({grades})"
        else:
            head = f"grade {self.grade}"
        parts = [head, self._expected_text()]
        if down:
            parts.append("down because " + "; ".join(down))
        b = self.bystander
        parts.append("bystander: " + b.summary()
                     + (f"; problems: {'; '.join(b.problems)}" if b.problems else ""))
        replies = [m for h in self.hostiles for m in h.replies]
        if replies:
            parts.append("replies on the hostile connection: "
                         + ", ".join(short(m, 160) for m in replies[:4])
                         + (f" and {len(replies) - 4} more" if len(replies) > 4 else ""))
        parts += self.notes
        parts.append("sanity echo before: ok; after: " + ("failed" if down else "ok"))
        return "; ".join(parts)

    def _dump_bystander(self):
        b = self.bystander
        path = None
        if self.log_dir:
            path = self.log_dir + ".bystander.wire.jsonl"
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                self.bystander_log.dump(path)
            except OSError:
                path = None
        self.case.wire_log.event("bystander", "close", sent=b.sent, echoed=b.echoed,
                                 slowest_ms=round(b.worst * 1000, 1),
                                 problems=list(b.problems), log=path)
        b.conn.close()
