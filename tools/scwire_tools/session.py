# SPDX-License-Identifier: AGPL-3.0-or-later
"""The interactive mode of scwire-send: a netcat that speaks the protocol.

After the handshake (our uid sent at once, the peer's printed as the first
JSON line), every stdin line is one message in the JSON view (jsonview.py),
sent as soon as it is read, and every message from the peer is printed as a
JSON line as soon as it arrives.  Placeholders in str values:

    "$cid"          a fresh uuid4, the same for every "$cid" of one line
    "$cid1", ...    stable cids generated once per session
    "$uid"          our uid, [name, uuid];  "$uuid" its uuid alone
    "$$..."         a literal str starting with one "$"

Blank lines and lines starting with "#" are skipped.  With raw_hex, lines are
hex bytes sent as they are.  The session ends when stdin is exhausted and no
reply came for `timeout` seconds, or when the peer closes.
"""
import json
import os
import re
import select
import sys
import time
import uuid as uuidlib

from . import ToolError
from .client import Client, is_uid, new_uid
from .codec import pack
from .jsonview import ViewError, from_json, to_json

_CIDN = re.compile(r"^\$cid([0-9]+)$")


class Placeholders:
    def __init__(self, uid):
        self.uid = uid
        self.stable = {}
        self.line_cid = None

    def new_line(self):
        self.line_cid = None

    def __call__(self, s):
        if not s.startswith("$"):
            return s
        if s.startswith("$$"):
            return s[1:]
        if s == "$cid":
            if self.line_cid is None:
                self.line_cid = str(uuidlib.uuid4())
            return self.line_cid
        m = _CIDN.match(s)
        if m:
            return self.stable.setdefault(m.group(1), str(uuidlib.uuid4()))
        if s == "$uid":
            return list(self.uid)
        if s == "$uuid":
            return self.uid[1]
        return s


def encode_line(text, where, ph, raw_hex=False):
    """The bytes or value for one stdin line; ToolError (status 2) when it is bad."""
    if raw_hex:
        try:
            return bytes.fromhex("".join(text.split()))
        except ValueError:
            raise ToolError(f"{where}: not hex bytes: {text.strip()[:60]!r}") from None
    try:
        view = json.loads(text)
    except json.JSONDecodeError as e:
        raise ToolError(f"{where}: not JSON: {e.msg} (column {e.colno})") from None
    ph.new_line()
    try:
        value = from_json(view, strings=ph)
        pack(value)
    except ViewError as e:
        raise ToolError(f"{where}: bad JSON view: {e}") from None
    except (TypeError, ValueError, OverflowError) as e:
        raise ToolError(f"{where}: cannot encode as msgpack: {e}") from None
    return value


def _print(value, out):
    out.write(json.dumps(to_json(value), ensure_ascii=False) + "\n")
    out.flush()


def run(target, codec="msgpack", name="scwire-send", timeout=1.0, connect_timeout=5.0,
        raw_hex=False, handshake=True, recorder=None, stdin_fd=0, out=None, err=None):
    """Run one session; returns the exit status (0), raises ToolError otherwise."""
    out = out or sys.stdout
    err = err or sys.stderr
    uid = new_uid(name)
    ph = Placeholders(uid)
    client = Client(target, codec, connect_timeout, recorder)
    try:
        if handshake:
            client.send(uid)
            item = client.recv(timeout)
            if item[0] == "timeout":
                raise ToolError(f"{target}: no uid from the peer within {timeout:g} s", 1)
            if item[0] != "msg":
                raise ToolError(f"{target}: the peer closed the connection before its uid", 1)
            if not is_uid(item[1]):
                raise ToolError(f"{target}: the peer's first message is not a uid: "
                                f"{json.dumps(to_json(item[1]))[:80]}", 1)
            _print(item[1], out)
        pending = b""
        lineno = 0
        stdin_open = True
        last = time.monotonic()
        while True:
            # Print whatever already arrived before reading more input.
            while client.readable(0):
                item = client.recv(0)
                if item[0] == "msg":
                    _print(item[1], out)
                    last = time.monotonic()
                elif item[0] in ("eof", "rst"):
                    how = "reset" if item[0] == "rst" else "closed"
                    err.write(f"scwire-send: {target}: the peer {how} the connection\n")
                    return 0
                else:
                    break
            if not stdin_open and time.monotonic() - last >= timeout:
                return 0
            fds = [client.sock] + ([stdin_fd] if stdin_open else [])
            wait = timeout if stdin_open else max(0.0, timeout - (time.monotonic() - last))
            r, _, _ = select.select(fds, [], [], wait)
            if stdin_fd in r:
                chunk = os.read(stdin_fd, 65536)
                if not chunk:
                    stdin_open = False
                    chunk = b"\n" if pending else b""
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    lineno += 1
                    text = raw.decode("utf-8", "replace")
                    if not text.strip() or text.lstrip().startswith("#"):
                        continue
                    data = encode_line(text, f"stdin:{lineno}", ph, raw_hex)
                    if raw_hex:
                        client.send_raw(data)
                    else:
                        client.send(data)
                    last = time.monotonic()
    finally:
        client.close()
