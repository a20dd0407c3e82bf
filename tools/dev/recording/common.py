# SPDX-License-Identifier: AGPL-3.0-or-later
"""What the recorded tractor programs share."""
import contextlib

import tractor


def parse_addr(text):
    """`HOST:PORT` as the (host, port) tuple tractor takes."""
    host, _, port = text.rpartition(":")
    return host, int(port)


def leaves(group):
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from leaves(exc)
        else:
            yield exc


@contextlib.contextmanager
def expect_remote_error(say, label):
    """Report the remote error(s) the block raises, as `say(label -> ...)`.

    Several tasks of tractor may relay one error each (one per StreamOverrun
    that came back, say), so they can arrive as a group: except* takes one
    error and a group alike."""
    try:
        yield
        say(f"{label} -> no error came back")
    except* tractor.RemoteActorError as group:
        errors = list(leaves(group))
        types = sorted({str(e.type) for e in errors})
        say(f"{label} -> {len(errors)} RemoteActorError, type = {', '.join(types)}")
