# SPDX-License-Identifier: AGPL-3.0-or-later
"""What the IUT logged: the records test-service.md SVC-30 asks for.

Requirements that say to *log a reason* or to *drop with a warning* are only
checkable on the IUT's standard error, one record a line, which the suite keeps
for every IUT it started.  A record about a connection names it by the port of
the peer's address (the suite's side of the connection) or, after the
handshake, by the peer's uuid; a record of a limit crossed also holds the
limit's value.  For an IUT the suite only attached to, nothing can be checked,
and the observation says so.
"""
import time

from .verdict import info, must

# SVC-30: a record is written at the latest 1 s after its event.
LOG_DELAY = 1.0


def conn_names(conn):
    """The texts that name one of the suite's connections in the IUT's records."""
    names = []
    try:
        names.append(str(conn.sock.getsockname()[1]))
    except OSError:
        pass
    if conn.uid is not None and conn.peer_uid is not None:
        names.append(conn.uid[1])
    return names


def records_since(iut, mark, wanted, wait=LOG_DELAY):
    """The new lines of the IUT's stderr since mark for which wanted(line) holds,
    waiting up to `wait` seconds for one to appear."""
    deadline = time.monotonic() + wait
    while True:
        lines = iut.log_since(mark).splitlines()
        found = [ln for ln in lines if wanted(ln)]
        if found or time.monotonic() >= deadline:
            return found, lines
        time.sleep(0.05)


def must_log(iut, mark, names, what, value=None):
    """SVC-30: a record on the IUT's stderr names the connection (one of `names`)
    and, for a limit, holds its value; an attached IUT's log cannot be read."""
    if not getattr(iut, "managed", False):
        info(f"not checked: the record of {what} (SVC-30); the suite cannot read the log of "
             f"an IUT it attached to")
        return None
    need = str(value) if value is not None else None
    found, lines = records_since(
        iut, mark, lambda ln: any(n in ln for n in names) and (need is None or need in ln))
    named = " or ".join(names)
    must(found, f"SVC-30: expected a record on the IUT's stderr of {what}, naming the "
                f"connection ({named})" + (f" and the limit's value {need}" if need else "")
         + f"; observed {len(lines)} new line(s)"
         + (f", the last: {lines[-1][:200]!r}" if lines else ""))
    return found[0]
