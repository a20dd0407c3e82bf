# SPDX-License-Identifier: AGPL-3.0-or-later
"""Crash regressions of the fuzzers, black-box (fuzz/regressions/).

Every input that ever crashed a fuzz target of the reference runtime is kept
under fuzz/regressions/<target>/, replayed by the fuzzers, tested by the CUnit
suite `regress`, and replayed here over TCP: each case sends what the input
sent (named in its docstring) and checks the requirement whose behaviour the
crash broke.  Any implementation can fall into the same holes, so these run
against every IUT.

The cases where the IUT's own reply does not fit its message limit need an
IUT of their own started with `--max-frame 240` (scwire-ref's flag), small
enough that the replies do not fit and large enough for the hostile frame's
echoes (bystander.py); without those flags they are skipped.
"""
import time

import pytest

from scwire_conform import mpk, msgs
from scwire_conform.bystander import CLOSED, HUNG, REJECTED
from scwire_conform.msgs import new_cid
from scwire_conform.verdict import must
from scwire_conform.wire import SERVICE, Closed, Timeout
from scwire_conform.wirelog import short

MAX_FRAME = 240
# A cid long enough that the IUT's error replies on it pass MAX_FRAME while
# the commands carrying it stay under it.
LONG_CID = "regression-" + "x" * 89


@pytest.fixture
def small_frame(private_iut):
    """An IUT whose message limit is 240 bytes."""
    return private_iut("--max-frame", str(MAX_FRAME))


def cmd(c, ns, func, kwargs, cid):
    return {"cmd": [ns, func, kwargs, list(c.uid), cid]}


def end_of(c, cid, settings):
    """Wait for the end of cid: ("error", message) when an error arrives on it,
    (CLOSED, None) when the IUT closes the connection first, (None, None) when
    neither happens promptly."""
    deadline = time.monotonic() + settings.prompt
    while True:
        try:
            m = c.recv_for(cid, timeout=max(0.01, deadline - time.monotonic()))
        except Closed:
            return CLOSED, None
        except Timeout:
            return None, None
        if isinstance(m, dict) and "error" in m:
            return "error", m


def error_or_close(h, c, cid, settings, what):
    """LIM-19, RPC-11: a reply that does not fit the limit is replaced by an error
    that does (its tb_str shortened), or ends only this connection; the frame
    grades the rest."""
    how, m = end_of(c, cid, settings)
    size = len(c.last_body) if how == "error" else 0

    def check():
        must(how is not None, f"{what}: expected an error on the cid or the connection closed; "
                              f"observed neither within {settings.prompt:g} s")
        if how == "error":
            problems = msgs.error_problems(m["error"])
            must(not problems, f"{what}: the error breaks ERR-1: {'; '.join(problems)}")
            must(size <= MAX_FRAME, f"{what}: the error is {size} bytes, over the IUT's own "
                                    f"message limit of {MAX_FRAME} (LIM-19)")
    h.check(check)


@pytest.mark.spec("LIM-1", "LIM-19", "RPC-11", "SEC-1")
@pytest.mark.may_kill
def test_lim_1_refusal_too_big_for_the_limit(small_frame, hostile, settings):
    """uaf-dispatch-cmd-bad-kwargs-error-too-big: `sleep` without its kwarg, whose
    TypeError reply does not fit the 240-byte limit; only that connection may
    suffer, and the IUT keeps serving."""
    with hostile(target=small_frame, allowed=(REJECTED, CLOSED)) as h:
        c = h.conn()
        c.send(cmd(c, SERVICE, "sleep", {}, LONG_CID))
        error_or_close(h, c, LONG_CID, settings, "sleep() with no kwargs")


@pytest.mark.spec("LIM-1", "LIM-19", "SELF-6", "SEC-1")
@pytest.mark.may_kill
def test_lim_1_cancel_task_error_too_big_for_the_limit(small_frame, hostile, settings):
    """uaf-cancel-task-error-too-big: `self._cancel_task` of a running context whose
    ContextCancelled error does not fit the 240-byte limit."""
    with hostile(target=small_frame, allowed=(REJECTED, CLOSED)) as h:
        c = h.conn()
        c.send(cmd(c, SERVICE, "ctx_no_stream", {"value": None}, LONG_CID))
        c.expect(msgs.functype(LONG_CID, "context"), timeout=settings.prompt, cid=LONG_CID)
        c.expect(msgs.started(LONG_CID), timeout=settings.prompt, cid=LONG_CID)
        c.send(cmd(c, "self", "_cancel_task", {"cid": LONG_CID}, "k0"))
        error_or_close(h, c, LONG_CID, settings, "the cancelled context")


@pytest.mark.spec("LIM-1", "LIM-19", "SVC-15", "SEC-1")
@pytest.mark.may_kill
def test_lim_1_context_error_too_big_for_the_limit(small_frame, hostile, settings):
    """uaf-step-ctx-error-send-fails: `ctx_error_after_started` sends started, then an
    error that does not fit the 240-byte limit."""
    with hostile(target=small_frame, allowed=(REJECTED, CLOSED)) as h:
        c = h.conn()
        c.send(cmd(c, SERVICE, "ctx_error_after_started", {"type_str": "ValueError"}, LONG_CID))
        c.expect(msgs.functype(LONG_CID, "context"), timeout=settings.prompt, cid=LONG_CID)
        c.expect(msgs.started(LONG_CID, None), timeout=settings.prompt, cid=LONG_CID)
        error_or_close(h, c, LONG_CID, settings, "ctx_error_after_started")


@pytest.mark.spec("ERR-1", "SVC-9")
def test_err_1_type_str_with_nul_byte(conn, settings):
    """type-str-with-nul-sent-empty: `raise_error` with type_str "\\x00\\x04lueError".
    The one error that answers carries that type_str unchanged (SVC-9) or refuses
    it with TypeError; never an empty or cut one (ERR-1)."""
    given = "\x00\x04lueError"
    cid = new_cid()
    conn.send(cmd(conn, SERVICE, "raise_error", {"type_str": given, "text": "kaboom"}, cid))
    how, m = end_of(conn, cid, settings)
    must(how == "error", f"expected an error on the cid; observed "
                         f"{'the connection closed' if how else 'nothing'}")
    problems = msgs.error_problems(m["error"])
    must(not problems, f"the error breaks ERR-1: {'; '.join(problems)}: {short(m)}")
    must(m["error"]["type_str"] in (given, "TypeError"),
         f"expected type_str {given!r} or TypeError; observed {short(m)}")
    r = conn.call(SERVICE, "echo", value=1, timeout=settings.prompt)
    must(r.kind == "return" and r.value == 1, f"the channel no longer serves: {short(r.final)}")


def invalid_byte_at_limit(limit):
    """A 3-array of two strs whose third item would begin exactly at byte `limit`,
    where the never-used byte 0xc1 stands."""
    a = (limit - 5) // 2
    b = limit - 5 - a
    data = b"\x93" + mpk.str_("a" * a, 8) + mpk.str_("b" * b, 8) + b"\xc1"
    assert len(data) == limit + 1 and data[limit] == 0xc1
    return data


@pytest.mark.spec("FRAME-12", "FRAME-8", "LIM-2", "SEC-1")
@pytest.mark.may_kill
@pytest.mark.parametrize("segments", [0, 1], ids=["whole", "1-byte"])
def test_frame_12_invalid_byte_at_the_limit(small_frame, hostile, settings, segments):
    """scan-error-code-depends-on-chunking: a message whose byte at the message limit is
    0xc1, sent whole and in 1-byte segments: either way the IUT closes the
    connection (however TCP split it) and serves the others."""
    with hostile(target=small_frame, allowed=(CLOSED,)) as h:
        c = h.conn(probe=False, usable=HUNG, chop=segments)
        data = invalid_byte_at_limit(MAX_FRAME)
        try:
            c.send_raw(c.codec.frame(data) if c.codec.name == "lenprefix" else data,
                       note=f"0xc1 at byte {MAX_FRAME}")
        except Closed:
            pass
        if not c.closed:
            c.closed_within(settings.prompt)
