# SPDX-License-Identifier: AGPL-3.0-or-later
"""A registry run by the suite that misbehaves on demand, for the IUT as a client.

An actor configured with a registry address probes it, registers over a fresh
connection and unregisters at exit (REG-11, REG-12, REG-13).  This server
records all of that (every connection, whether it carried any byte, the uid
and every command) and answers the way a case scripts it:

- `uid`: the value it sends as its own uid (default a valid uid; any other
  value, or raw bytes given as `RawBytes`, makes a bad handshake), or None to
  send none; `uid_first=False` waits for the IUT's uid before sending its own,
  `uid_delay` waits that long before sending it;
- `answer`: how `self.register_actor` (or the functions in `on`) is answered:
  "ok" (functype asyncfunc, return nil), "silent" (nothing), "late" (ok after
  `late` seconds), "non-map" (the integer 42), "wrong-cid" (functype and
  return on another cid), "garbage" (the never-used byte 0xc1), "error" (an
  error RuntimeError), "functype-only", "nil" (end the channel), "close"
  (close at once), "reset" (RST);
- `chop`: write its replies in segments of that many bytes.

Connections are logged in the case's wire log; the IUT is their opening side
(`c2s`), the registry's messages are `s2c`.
"""
import socket
import threading
import time

from .msgs import new_cid
from .registry import REGISTRY_UID
from .verdict import Violation
from .wire import Closed, Conn, Timeout

ANSWERS = ("ok", "silent", "late", "non-map", "wrong-cid", "garbage", "error",
           "functype-only", "nil", "close", "reset")
DEFAULT = object()


class RawBytes(bytes):
    """A uid (or reply) sent as these bytes exactly, framed by the codec."""


class Seen:
    """What the registry saw on one connection the IUT opened."""

    def __init__(self, conn, index):
        self.conn = conn
        self.index = index
        self.opened = time.monotonic()
        self.first_byte = None      # monotonic time of the IUT's first message, if any
        self.uid = None
        self.commands = []          # cmd messages, in order
        self.nil = False
        self.ended = None           # "eof"/"rst"/"closed-by-registry" and when
        self.ended_at = None
        self.sent_uid_at = None
        self.late_answer = None     # with answer="late": "sent" or why not
        self.errors = []

    @property
    def silent(self):
        """A connect-and-drop probe: the IUT sent no byte before it ended."""
        return self.first_byte is None and self.ended is not None


class ScriptedRegistry:
    def __init__(self, codec, log, *, host="127.0.0.1", timeout=5.0, uid=DEFAULT,
                 uid_first=True, uid_delay=0.0, answer="ok", on=("register_actor",), late=6.0,
                 chop=None, hold=60.0):
        if answer not in ANSWERS:
            raise ValueError(f"unknown answer {answer!r} (known: {', '.join(ANSWERS)})")
        self.codec = codec
        self.log = log
        self.timeout = timeout
        self.uid = list(REGISTRY_UID) if uid is DEFAULT else uid
        self.uid_first = uid_first
        self.uid_delay = uid_delay
        self.answer = answer
        self.on = tuple(on)
        self.late = late
        self.chop = chop
        self.hold = hold
        self.seen = []
        self.notes = []             # what a case wants said about this registry
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._lsock = socket.create_server((host, 0))
        self.host, self.port = host, self._lsock.getsockname()[1]
        self._threads = []
        t = threading.Thread(target=self._accept, name="scripted-registry", daemon=True)
        t.start()
        self._threads.append(t)

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def _accept(self):
        while not self._stopping.is_set():
            try:
                sock, _ = self._lsock.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = Conn(sock, self.codec, log=self.log, timeout=self.timeout, accepted=True,
                     chop=self.chop)
            with self._cond:
                s = Seen(c, len(self.seen))
                self.seen.append(s)
                self._cond.notify_all()
            t = threading.Thread(target=self._serve, args=(s,), daemon=True)
            t.start()
            self._threads.append(t)

    def _ended(self, s, how):
        with self._cond:
            if s.ended is None:
                s.ended, s.ended_at = how, time.monotonic()
            self._cond.notify_all()

    def _send_uid(self, s):
        if self.uid is None:
            return
        if self.uid_delay and self._stopping.wait(self.uid_delay):
            return
        if isinstance(self.uid, RawBytes):
            s.conn.send_body(bytes(self.uid), note="the registry's uid, as raw bytes")
        else:
            s.conn.send(self.uid)
        s.sent_uid_at = time.monotonic()

    def _serve(self, s):
        c = s.conn
        try:
            if self.uid_first:
                self._send_uid(s)
            first = c.recv(timeout=self.hold)
            with self._cond:
                s.first_byte = time.monotonic()
                s.uid = first
                self._cond.notify_all()
            if not self.uid_first:
                self._send_uid(s)
            while not self._stopping.is_set():
                msg = c.recv(timeout=self.hold)
                if msg is None:
                    with self._cond:
                        s.nil = True
                        self._cond.notify_all()
                    continue
                if isinstance(msg, dict) and isinstance(msg.get("cmd"), (list, tuple)):
                    with self._cond:
                        s.commands.append(msg)
                        self._cond.notify_all()
                    if self._reply(s, msg):
                        return
        except Closed as e:
            self._ended(s, e.how)
            c.close()           # a server closes its side too (the IUT may wait for it)
            return
        except (Timeout, Violation, OSError) as e:
            s.errors.append(f"{type(e).__name__}: {e}")
        finally:
            if s.ended is None and c.closed:
                self._ended(s, c.closed)
        # Still open at the end of the hold: leave it to stop().

    def _reply(self, s, msg):
        """Answer one command; True when the registry ended the connection."""
        c, cmd = s.conn, msg["cmd"]
        cid = cmd[4] if len(cmd) == 5 else None
        func = cmd[1] if len(cmd) > 1 else None
        mode = self.answer if func in self.on else "ok"
        ok = [{"functype": "asyncfunc", "cid": cid}, {"return": None, "cid": cid}]
        if mode == "ok":
            c.send_many(ok)
        elif mode == "late":
            if self._stopping.wait(self.late):
                return True
            try:
                c.send_many(ok)
                outcome = "sent"
            except (Closed, Timeout, OSError) as e:
                outcome = f"not sent: {e}"
            with self._cond:
                s.late_answer = outcome
                self._cond.notify_all()
        elif mode == "non-map":
            c.send(42)
        elif mode == "wrong-cid":
            other = new_cid()
            c.send_many([{"functype": "asyncfunc", "cid": other}, {"return": None, "cid": other}])
        elif mode == "garbage":
            c.send_body(b"\xc1", note="the never-used byte 0xc1")
        elif mode == "error":
            c.send({"error": {"tb_str": "Traceback (most recent call last):\nRuntimeError: "
                                        "the registry refuses\n", "type_str": "RuntimeError"},
                    "cid": cid})
        elif mode == "functype-only":
            c.send({"functype": "asyncfunc", "cid": cid})
        elif mode == "nil":
            c.send(None)
            c.close()
            self._ended(s, "closed-by-registry")
            return True
        elif mode in ("close", "reset"):
            (c.abort if mode == "reset" else c.close)()
            self._ended(s, "closed-by-registry")
            return True
        return False

    # --- waiting -----------------------------------------------------------

    def wait(self, pred, timeout):
        """Wait until pred() (called under the lock) is true; its value, or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = pred()
                if v:
                    return v
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def wait_command(self, func, timeout, after=0):
        """(Seen, message) of the first command naming self.<func> on a connection
        with index >= after."""
        def find():
            for s in self.seen[after:]:
                for m in s.commands:
                    if len(m["cmd"]) > 1 and m["cmd"][1] == func:
                        return s, m
            return None
        return self.wait(find, timeout) or (None, None)

    def wait_ended(self, s, timeout):
        return self.wait(lambda: s.ended, timeout)

    def stop(self):
        self._stopping.set()
        try:
            self._lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._lsock.close()
        for s in list(self.seen):
            try:
                s.conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.conn.close()
        for t in self._threads:
            t.join(1.0)
