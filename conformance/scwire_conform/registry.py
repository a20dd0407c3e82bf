# SPDX-License-Identifier: AGPL-3.0-or-later
"""A minimal registry run by the suite, to watch an IUT register and unregister.

REG-11 and REG-12 describe what an actor configured with a registry address
does at start and exit.  The suite checks them by giving the IUT the address
of this server: it accepts connections, handshakes like any actor, answers
`self.register_actor` and `self.unregister_actor` with `functype` and `return
nil` (or stays silent, to check that the IUT does not wait forever), and
records every command with the connection that carried it.  Connections are
logged in the case's wire log; on them the IUT is the opening side (`c2s`).
"""
import socket
import threading
import time

from .wire import Closed, Conn, Timeout
from .verdict import Violation

REGISTRY_UID = ("scwire-conform-registry", "6d1c2a44-5f0e-4b8e-9a57-3f4c1e2d0b7a")


class RegistryServer:
    def __init__(self, codec, log, *, host="127.0.0.1", answer=True, timeout=5.0):
        self.codec = codec
        self.log = log
        self.answer = answer
        self.timeout = timeout
        self.conns = []          # every accepted Conn, in order
        self.commands = []       # (Conn, message) of every cmd received
        self.peer_uids = {}      # Conn name -> uid the IUT sent
        self.nils = set()        # names of the Conns on which the IUT sent nil
        self._cond = threading.Condition()
        self._lsock = socket.create_server((host, 0))
        self.host, self.port = host, self._lsock.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, name="registry", daemon=True)
        self._thread.start()

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def _accept(self):
        while not self._stopping:
            try:
                sock, _ = self._lsock.accept()
            except OSError:
                return
            c = Conn(sock, self.codec, log=self.log, timeout=self.timeout, accepted=True)
            with self._cond:
                self.conns.append(c)
                self._cond.notify_all()
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.send_uid(*REGISTRY_UID)
            uid = c.recv(timeout=self.timeout)
            with self._cond:
                self.peer_uids[c.name] = uid
            while True:
                msg = c.recv(timeout=60)
                if msg is None:
                    with self._cond:
                        self.nils.add(c.name)
                if isinstance(msg, dict) and isinstance(msg.get("cmd"), (list, tuple)):
                    with self._cond:
                        self.commands.append((c, msg))
                        self._cond.notify_all()
                    cmd = msg["cmd"]
                    if self.answer and len(cmd) == 5 and cmd[0] == "self":
                        cid = cmd[4]
                        c.send({"functype": "asyncfunc", "cid": cid})
                        c.send({"return": None, "cid": cid})
        except (Closed, Timeout, Violation, OSError):
            return
        finally:
            with self._cond:
                self._cond.notify_all()

    def wait_command(self, func, timeout, after=0):
        """The first (Conn, message) whose cmd names self.<func>, from index `after`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for c, m in self.commands[after:]:
                    cmd = m["cmd"]
                    if len(cmd) > 1 and cmd[1] == func:
                        return c, m
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None, None
                self._cond.wait(remaining)

    def wait_closed(self, conn, timeout):
        """How the IUT ended conn ("eof"/"rst"), or None if still open at the timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not conn.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return conn.closed

    def stop(self):
        self._stopping = True
        try:
            # shutdown wakes the accepting thread; close alone does not.
            self._lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._lsock.close()
        for c in list(self.conns):
            try:
                # shutdown wakes the thread blocked in recv; close alone may not.
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self._thread.join(1.0)
