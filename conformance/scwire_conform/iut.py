# SPDX-License-Identifier: AGPL-3.0-or-later
"""The implementation under test, from the suite's side (test-service.md section 1).

An IUT is either started from a command template or attached to by address.

Template: `{host}`, `{port}` and `{codec}` are replaced in each word of the
command.  With port 0 the IUT picks a free port and the suite reads the
address from its first line of stdout; with a concrete port the suite
connects and closes (a harmless probe, HS-8) until a connection is accepted.
Its stderr goes to one file per start, so that the slice written during a
case can be kept with that case.  `stop` sends SIGTERM and, 5 s later,
SIGKILL.  The IUT runs in its own process group, so processes it leaves
behind can be found (`leaked`).

Address: the suite only connects; it cannot restart, stop or observe the
process, and says so (`managed` is False).

Network namespace (`netns`): the command runs as `ip netns exec NAME ...`,
which replaces itself with the command, so the pid, the signals and /proc
are the IUT's own as without it.
"""
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import threading
import time

STOP_GRACE = 5.0          # SVC-3: SIGTERM, then SIGKILL 5 s later
_PH_RE = re.compile(r"\{([A-Za-z_]*)\}")


class IUTError(Exception):
    """The IUT could not be started or reached."""


def expand(template, *, host, port, codec, extra_args=()):
    """The argv of a command template with its placeholders filled in."""
    values = {"host": host, "port": str(port), "codec": codec}

    def sub(m):
        if m.group(1) not in values:
            raise ValueError(f"unsupported placeholder {m.group(0)} in the IUT command "
                             f"(supported: {', '.join('{%s}' % k for k in values)})")
        return values[m.group(1)]
    argv = [_PH_RE.sub(sub, word) for word in shlex.split(template)]
    if not argv:
        raise ValueError("empty IUT command")
    return argv + list(extra_args)


def in_netns(argv, netns):
    """argv run in the network namespace netns (None: as it is)."""
    return ["ip", "netns", "exec", netns] + list(argv) if netns else list(argv)


def parse_addr(text):
    """(host, port) from `host:port` or `[v6addr]:port`."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a host:port address: {text.strip()!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def proc_status_kb(pid, key):
    """A kB figure of /proc/PID/status (VmRSS, VmPeak, ...), or None."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def process_table():
    """{pid: (ppid, state, argv)} of every process /proc shows (zombies too)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                argv = [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
        except OSError:
            continue
        # The command name in parentheses may hold spaces and ')'.
        rest = stat[stat.rindex(")") + 2:].split()
        out[int(d)] = (int(rest[1]), rest[0], argv)
    return out


def can_connect(host, port, timeout=1.0):
    """Whether something accepts a TCP connection there (connect, then close)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def serves_connections(host, port, wait=1.0):
    """Whether something there takes a connection and keeps it: connected, it must
    not end it before its first byte within wait seconds (an IUT speaks first,
    with its uid).  A refused connection, and one a relay on the way accepted
    and then reset because nothing listens behind it, both give False."""
    try:
        s = socket.create_connection((host, port), timeout=wait)
    except OSError:
        return False
    with s:
        try:
            s.settimeout(wait)
            return bool(s.recv(1))
        except socket.timeout:
            return True
        except OSError:
            return False


class IUT:
    """One IUT: a process started from a template, or an address to attach to."""

    def __init__(self, template=None, *, addr=None, host="127.0.0.1", port=0,
                 codec="msgpack", extra_args=(), log_dir=None, start_timeout=10.0,
                 label="iut", netns=None):
        if (template is None) == (addr is None):
            raise ValueError("give exactly one of a command template and an address")
        self.template = template
        self.addr = addr
        self.bind_host = host
        self.bind_port = port
        self.codec = codec
        self.extra_args = list(extra_args)
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self.label = label
        self.netns = netns
        self.host, self.port = (None, None) if addr is None else parse_addr(addr)
        self.proc = None
        self.argv = None
        self.pids = []            # every process started, for leak checks
        self.stderr_paths = []    # one per start
        self.returncode = None
        self.first_line = None    # the IUT's first stdout line, once seen
        self.exit_judged = False  # a case waited for its exit (wait_exit)
        self._drain_thread = None

    @property
    def managed(self):
        """True when the suite started the IUT and can stop and restart it."""
        return self.template is not None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def describe(self):
        where = f"{self.host}:{self.port}" if self.port else "(not listening)"
        if not self.managed:
            return f"IUT attached at {where}"
        return f"IUT pid {self.pid} at {where}: {' '.join(self.argv or [])}"

    # --- life cycle --------------------------------------------------------

    def start(self):
        if not self.managed:
            if not can_connect(self.host, self.port):
                raise IUTError(f"nothing accepts connections at {self.addr}")
            return self
        self.argv = in_netns(expand(self.template, host=self.bind_host, port=self.bind_port,
                                    codec=self.codec, extra_args=self.extra_args), self.netns)
        n = len(self.stderr_paths) + 1
        base = os.path.join(self.log_dir or ".", f"{self.label}-{n}")
        self.stderr_paths.append(base + ".stderr.log")
        self.returncode = None
        with open(base + ".stderr.log", "wb") as err:
            try:
                self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=err,
                                             start_new_session=True)
            except OSError as e:
                raise IUTError(f"cannot run {self.argv[0]}: {e}") from None
        self.pids.append(self.proc.pid)
        deadline = time.monotonic() + self.start_timeout
        try:
            head = b""
            if self.bind_port == 0:
                line, head = self._first_line(deadline)
                self.first_line = line
                try:
                    self.host, self.port = parse_addr(line)
                except ValueError as e:
                    raise IUTError(f"first stdout line of the IUT: {e}") from None
            else:
                self.host, self.port = self.bind_host, int(self.bind_port)
            self._drain_stdout(head, base + ".stdout.log")
            if self.bind_port != 0:
                self._wait_accepting(deadline)
        except IUTError:
            self.stop()
            raise
        return self

    def _first_line(self, deadline):
        """The first stdout line, and every stdout byte read so far."""
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise IUTError(f"the IUT printed no host:port line within "
                               f"{self.start_timeout:g} s")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                rc = self.proc.wait()
                raise IUTError(f"the IUT exited with status {rc} before printing its address"
                               f" (stderr: {self.stderr_paths[-1]})")
            buf += chunk
        return buf.split(b"\n", 1)[0].decode("utf-8", "replace"), buf

    def _drain_stdout(self, head, path):
        # Later stdout is free-form; it must still be read, or a chatty IUT
        # would block on a full pipe.
        fd = self.proc.stdout.fileno()

        def drain():
            seen = head
            with open(path, "wb") as out:
                out.write(head)
                while True:
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    out.write(chunk)
                    out.flush()
                    if self.first_line is None:
                        seen += chunk
                        if b"\n" in seen:
                            self.first_line = seen.split(b"\n", 1)[0].decode("utf-8", "replace")
        self._drain_thread = threading.Thread(target=drain, name=f"{self.label}-stdout",
                                              daemon=True)
        self._drain_thread.start()

    def _wait_accepting(self, deadline):
        while not can_connect(self.host, self.port, timeout=0.5):
            if self.proc.poll() is not None:
                raise IUTError(f"the IUT exited with status {self.proc.returncode} "
                               f"before accepting connections")
            if time.monotonic() > deadline:
                raise IUTError(f"nothing accepted connections at {self.host}:{self.port} "
                               f"within {self.start_timeout:g} s")
            time.sleep(0.02)

    def alive(self):
        """Process still running (managed), or address still accepting (attached)."""
        if self.managed:
            return self.proc is not None and self.proc.poll() is None
        return can_connect(self.host, self.port)

    def memory_peak_kb(self):
        """The process's peak virtual memory (VmPeak, kB) on Linux, else None."""
        return proc_status_kb(self.proc.pid, "VmPeak") if self.proc else None

    def rss_kb(self):
        """The process's resident memory (VmRSS, kB) on Linux, else None (also
        once it exited: a zombie has no VmRSS)."""
        return proc_status_kb(self.proc.pid, "VmRSS") if self.proc else None

    def send_signal(self, signo):
        """Signal the IUT on a case's behalf: an exit that follows is the case's to
        judge (`exit_judged`), never taken for the IUT dying of its input."""
        self.exit_judged = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signo)

    def wait_exit(self, timeout):
        """The exit status once the process ended within timeout, else None.  Whoever
        waits for the exit judges it (`exit_judged`): the plugin then does not."""
        self.exit_judged = True
        if not self.proc:
            return None
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, grace=STOP_GRACE):
        """SIGTERM, then SIGKILL after grace seconds; returns the exit status."""
        if not self.managed or self.proc is None:
            return None
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.returncode = proc.returncode
        if self._drain_thread:
            self._drain_thread.join(1.0)
        if proc.stdout:
            proc.stdout.close()
        return self.returncode

    def restart(self):
        if not self.managed:
            raise IUTError("an attached IUT cannot be restarted")
        self.stop()
        return self.start()

    def leaked(self):
        """Process groups of IUTs this object started that still have members."""
        left = []
        for pid in self.pids:
            try:
                os.killpg(pid, 0)
            except (ProcessLookupError, PermissionError):
                continue
            left.append(pid)
        return left

    def kill_leaked(self):
        for pgid in self.leaked():
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # --- logs --------------------------------------------------------------

    def mark(self):
        """A position in the IUT's stderr, for `log_since`."""
        if not self.stderr_paths:
            return (0, 0)
        path = self.stderr_paths[-1]
        return (len(self.stderr_paths) - 1, os.path.getsize(path) if os.path.exists(path) else 0)

    def log_since(self, mark):
        """Everything the IUT wrote on stderr since mark (across restarts)."""
        index, offset = mark
        parts = []
        for i, path in enumerate(self.stderr_paths[index:], index):
            try:
                with open(path, "rb") as fh:
                    fh.seek(offset if i == index else 0)
                    parts.append(fh.read())
            except OSError:
                continue
        return b"".join(parts).decode("utf-8", "replace")
