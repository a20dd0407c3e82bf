# SPDX-License-Identifier: AGPL-3.0-or-later
"""The suite as the callee of a context that the IUT opens (ctx_call, SVC-29).

`Callee` listens on a free loopback port; `accept()` takes the IUT's
connection, does the handshake and reads the context command, after which a
case answers on `conn` (functype, started, an error, a return...) and
watches what the IUT does.  `ctx_call()` makes the IUT open that context.  The connection is logged in the case's wire log
with the IUT as its opening side.
"""
import select
import socket
import time

from . import msgs
from .verdict import must
from .wire import SERVICE, Conn
from .wirelog import short

CALLEE_NAME = "scwire-callee"


class Callee:
    def __init__(self, codec, log, *, host="127.0.0.1", timeout=5.0):
        self.codec = codec
        self.log = log
        self.timeout = timeout
        self._lsock = socket.create_server((host, 0))
        self._lsock.settimeout(timeout)
        self.host, self.port = host, self._lsock.getsockname()[1]
        self.conn = None
        self.cid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def accept(self, within=None, ended_first=None, rid=None):
        """The IUT's connection, handshaken; returns its context command.  While it
        waits (`within` seconds, default the timeout), `ended_first()` may name the
        reason the connection will never come (the call that should make it
        failed), which fails the case at once with that reason, against `rid`."""
        within = self.timeout if within is None else within
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            readable = select.select([self._lsock], [], [], max(0.0, min(left, 0.1)))[0]
            if readable:
                break
            why = ended_first() if ended_first else None
            must(why is None, why, rid=rid)
            must(left > 0, f"the IUT did not connect to {self.host}:{self.port} within "
                           f"{within:g} s")
        sock, _ = self._lsock.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = Conn(sock, self.codec, log=self.log, timeout=self.timeout, accepted=True)
        self.conn.handshake(CALLEE_NAME)
        msg = self.conn.recv()
        cmd = msg.get("cmd") if isinstance(msg, dict) else None
        must(isinstance(cmd, (list, tuple)) and len(cmd) == 5 and isinstance(cmd[4], str),
             f"the IUT's first message after the handshake is not a command: {msg!r}")
        self.cid = cmd[4]
        return cmd

    def another_connection(self, within):
        """Whether a second connection arrives within `within` seconds (it is
        closed at once): the IUT called twice."""
        self._lsock.settimeout(within)
        try:
            sock, _ = self._lsock.accept()
        except socket.timeout:
            return False
        finally:
            self._lsock.settimeout(self.timeout)
        sock.close()
        return True

    def start(self, started=None):
        """Answer the command as a context function that started with `started`."""
        self.conn.send_many([{"functype": "context", "cid": self.cid},
                             {"started": started, "cid": self.cid}])

    def send_error(self, type_str, text):
        self.conn.send({"error": {"tb_str": f"Traceback (most recent call last):\n"
                                            f"{type_str}: {text}\n", "type_str": type_str},
                        "cid": self.cid})

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self._lsock.close()


def ctx_call(conn, callee, *, idle, ns="scwire_peer", func="ctx_peer", kwargs=None):
    """Ask the IUT on conn to call ns.func(**kwargs) as a context of the callee and
    take its connection: (the cid of the ctx_call request, the command the callee
    got).  The case needs the capability ctx-call (the function is optional, SVC-29)."""
    kwargs = {"x": [1, "two"]} if kwargs is None else kwargs
    cid = conn.command(SERVICE, "ctx_call", {"host": callee.host, "port": callee.port, "ns": ns,
                                             "func": func, "kwargs": kwargs, "idle": idle})
    first = conn.expect(msgs.functype(cid, "asyncfunc") | msgs.error(cid), cid=cid)
    if msgs.kind(first) == "error":
        must(False, f"ctx_call, which the IUT declared (capability ctx-call), was refused: "
                    f"{short(first)}")
    cmd = callee.accept()
    must(msgs.same(list(cmd[:3]), [ns, func, kwargs]),
         f"the IUT's command is {cmd!r}; expected {ns}.{func} with kwargs {kwargs!r}")
    return cid, cmd
