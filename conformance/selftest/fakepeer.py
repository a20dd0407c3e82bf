# SPDX-License-Identifier: AGPL-3.0-or-later
"""A one-connection TCP server in a thread, for self-tests of `Conn`.

The test gives a script: a function that gets the accepted socket and does
what the IUT should do (send bytes, close, reset, stay silent).
"""
import socket
import struct
import threading


class Peer:
    def __init__(self, script):
        self._lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self._lsock.getsockname()[1]
        self.received = b""
        self.error = None
        self._script = script
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        sock, _ = self._lsock.accept()
        self._lsock.close()
        try:
            self._script(self, sock)
        except Exception as e:  # reported by join()
            self.error = e
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def read(self, sock, n, timeout=5.0):
        """Read exactly n bytes (or until EOF) and remember them."""
        sock.settimeout(timeout)
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        self.received += data
        return data

    @staticmethod
    def reset(sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def join(self, timeout=5.0):
        self._thread.join(timeout)
        if self.error:
            raise self.error
