# SPDX-License-Identifier: AGPL-3.0-or-later
"""Whether the target survived a case, and whether its memory keeps growing.

Liveness: a fresh connection, our uid, the target's uid, then
`scwire_service.echo` of a fresh token, whose `return` must come back within
the timeout.  A case after which this fails is graded `down`, and is a
finding of one of the kinds

    died          a target we started has exited (its status is named);
    hang          the check waited the whole timeout for an answer;
    unresponsive  connection refused or closed, or a wrong answer.

Memory: the VmRSS of a target we started, sampled every K cases; growth of
more than a bound between the smallest and the latest of the last W samples
is a finding of kind `memory`.
"""
import collections
import re
import time
import uuid

from .. import ToolError
from ..client import Client

DOWN_KINDS = ("died", "hang", "unresponsive")
# A target that is exiting may still accept for a moment: give it this long to end.
EXIT_WAIT = 1.0
# The line a crashing target writes last to name what went wrong, as most
# runtimes print it: "TypeError: ...", "AddressSanitizer: ...", "panicked at ...".
_CRASH_LINE = re.compile(r"^\s*((?:[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)|"
                         r"[A-Za-z]+Sanitizer|panic)\b.*)$", re.M)


class Verdict:
    """The result of a liveness check: ok, or a finding kind and a sentence."""

    def __init__(self, kind=None, detail=""):
        self.kind = kind
        self.detail = detail
        self.signature = ""       # the crash line of the target's log, when it wrote one

    @property
    def ok(self):
        return self.kind is None

    def __repr__(self):
        return f"Verdict({self.kind or 'ok'}: {self.detail})"


def _echo_answer(client, cid, token, deadline):
    """None when the echo came back, else (kind, detail)."""
    while True:
        item = client.recv(max(0.0, deadline - time.monotonic()))
        if item[0] == "timeout":
            return "hang", "the liveness echo got no return within the timeout"
        if item[0] != "msg":
            return "unresponsive", (f"the liveness connection ended ({item[0]}) before the "
                                    f"echo's return")
        m = item[1]
        if isinstance(m, dict) and m.get("cid") == cid:
            if "return" in m:
                if m["return"] != token:
                    return "unresponsive", f"the liveness echo returned {m['return']!r}"
                return None
            if "error" in m:
                return "unresponsive", f"the liveness echo failed: {m['error']!r}"[:200]


def liveness(addr, codec="msgpack", timeout=5.0):
    """A Verdict: can a fresh connection handshake and call echo within timeout?"""
    deadline = time.monotonic() + timeout
    try:
        client = Client(addr, codec, connect_timeout=timeout)
    except ToolError as e:
        return Verdict("unresponsive", str(e))
    try:
        uid = ["netfuzz-liveness", str(uuid.uuid4())]
        client.send(uid)
        item = client.recv(max(0.0, deadline - time.monotonic()))
        if item[0] == "timeout":
            return Verdict("hang", "no uid from the target within the timeout")
        if item[0] != "msg":
            return Verdict("unresponsive", f"the liveness connection ended ({item[0]}) "
                                           f"before the target's uid")
        cid, token = str(uuid.uuid4()), str(uuid.uuid4())
        client.send({"cmd": ["scwire_service", "echo", {"value": token}, uid, cid]})
        bad = _echo_answer(client, cid, token, deadline)
        return Verdict(*bad) if bad else Verdict()
    except ToolError as e:
        return Verdict("unresponsive", str(e))
    finally:
        client.close()


def crash_signature(log):
    """The last crash line of a log, numbers blanked so that sizes and bytes do not matter."""
    lines = _CRASH_LINE.findall(log)
    return re.sub(r"0x[0-9a-fA-F]+|\d+", "N", lines[-1].strip())[:200] if lines else ""


def same_failure(first, again):
    """Whether a re-check shows the same failure: same kind, same crash line if any."""
    if again.ok or (first.kind == "died") != (again.kind == "died"):
        return False
    return not first.signature or first.signature == again.signature


def check(target, codec, timeout):
    """Liveness of a Target, with `died` when a started target has exited."""
    status = target.exit_status()
    if status is None:
        v = liveness(target.addr, codec, timeout)
        if v.ok:
            return v
        status = target.exit_status(min(EXIT_WAIT, timeout))
        if status is None:
            return v
    return Verdict("died", f"the target exited with status {status}" if status >= 0
                   else f"the target was killed by signal {-status}")


class MemoryWatch:
    """RSS samples of one target; `sample` returns a Verdict of kind memory on growth."""

    def __init__(self, every=25, window=8, bound_kb=65536):
        self.every = every
        self.bound_kb = bound_kb
        self.samples = collections.deque(maxlen=window)
        self.seen = []            # first and latest sample of the run, kB

    def due(self, cases_done):
        return self.every > 0 and cases_done % self.every == 0

    def reset(self):
        self.samples.clear()

    def sample(self, target):
        kb = target.rss_kb()
        if kb is None:
            return Verdict()
        self.samples.append(kb)
        self.seen = [self.seen[0] if self.seen else kb, kb]
        low = min(self.samples)
        if kb - low > self.bound_kb:
            detail = (f"resident memory grew from {low} kB to {kb} kB over the last "
                      f"{len(self.samples)} samples (bound {self.bound_kb} kB)")
            self.reset()
            return Verdict("memory", detail)
        return Verdict()
