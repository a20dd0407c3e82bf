# SPDX-License-Identifier: AGPL-3.0-or-later
"""fuzz_actor's ctx_call ops (op bytes 0xf8 and up) and gen-corpus.py's seeds
for them: the harness plays the callee of scwire_service.ctx_call (SVC-29)
on the channel the actor opens, and supervision ops keep 0xf0-0xf7.  Runs the
built target ($FUZZ_ACTOR, default build/fuzz/fuzz_actor) with
FUZZ_ACTOR_TRACE=1."""
import pytest

from actor_trace import gen, trace, needs_fuzz_actor

pytestmark = needs_fuzz_actor


def new(codec=0):
    return gen.Ops(gen.actor_flags(codec, 3, True, gen.F_LOG)).accept().send(0, gen.PEER)


def sent_to_caller(text):
    """The hex of every message the actor sent, as one string to search."""
    return "".join(line.split("bytes:", 1)[1].replace(" ", "") for line in text.splitlines()
                   if line.startswith("    actor sent "))


def hexstr(s):
    return (bytes([0xA0 + len(s)]) + s.encode()).hex()


@pytest.mark.parametrize("codec", [0, gen.F_LENPREFIX])
def test_seeds_return_fail_and_cancel(tmp_path, codec):
    seeds = gen.ctx_calls(lambda profile=3, extra=0, registry_role=True:
                          gen.Ops(gen.actor_flags(codec, profile, registry_role, extra | gen.F_LOG))
                          .accept().send(0, gen.PEER))
    texts = [trace(tmp_path, s) for s in seeds]
    # The trace shows the first 64 bytes of each message: enough for the
    # kind of the caller's answer and for the cancel call.
    returned, failed, cancelled, timed_out = (sent_to_caller(t) for t in texts[:4])
    error = "82" + hexstr("error")
    assert hexstr("returned") in returned and error not in returned
    assert error in failed and hexstr("returned") not in failed
    assert hexstr("_cancel_task") in cancelled and hexstr("cancelled") in cancelled
    assert hexstr("_cancel_task") in timed_out and error in timed_out
    assert hexstr("cancelled") not in timed_out
    everything = "".join(texts)
    for op in ("CC_CONNECT", "CC_OPEN", "CC_REPLY", "CC_END", "CC_IDLE", "CC_GARBAGE"):
        assert f"op {op} " in everything, op
    assert "(ctx_call)" in everything
    assert "cannot connect to the callee" in texts[4]
    # Every seed ends in the epilogue, which the actor leaves by exiting.
    assert all("epilogue: shutdown" in t and "event 5 conn 0" in t for t in texts)


def test_cc_call_op_reaches_ctx_call(tmp_path):
    # 0xf8 CC_CALL on connection 0: the one function, no mutation, cid c0,
    # caller 0; host 127.0.0.1, port 40200, ns scwire_service, func echo,
    # kwargs {}, idle 0.5; then 0xf9 connected with the callee's uid.
    ops = bytes([0xF8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0xF9, 0, 2, 18, 0xFF, 0x80])
    text = trace(tmp_path, new().bytes() + ops)
    lines = [line.split()[1] for line in text.splitlines() if line.startswith("op ")]
    assert lines[-3:] == ["CC_CALL", "CC_CONNECT", "CC_IDLE"]
    assert "connect to 127.0.0.1:40200 (ctx_call)" in text
    assert hexstr("echo") in sent_to_caller(text)


def test_supervision_op_bytes_keep_their_meaning(tmp_path):
    # 0xf0-0xf7 stay supervision ops; 0xf8-0xff are the ctx_call ops.
    ops = bytes([0xF7, 0, 0, 0xF0, 0, 5, 0, 0, 0, 0xFF, 0, 0xFE, 0, 0])
    text = trace(tmp_path, bytes([0x70, 0]) + ops)
    lines = [line.split()[1] for line in text.splitlines() if line.startswith("op ")]
    assert lines == ["CHILD_EXIT", "SUP_CALL", "CC_IDLE", "CC_END"]
