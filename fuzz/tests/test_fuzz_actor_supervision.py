# SPDX-License-Identifier: AGPL-3.0-or-later
"""fuzz_actor's supervision ops and gen-corpus.py's seeds for them: the seeds
drive the actor through spawning, replies, signals and reaping, and op bytes
below 0xf0 keep their meaning.  Runs the built target ($FUZZ_ACTOR, default
build/fuzz/fuzz_actor) with FUZZ_ACTOR_TRACE=1."""
from actor_trace import gen, trace, needs_fuzz_actor

pytestmark = needs_fuzz_actor


def new(profile=3, extra=0, registry_role=True):
    return gen.Ops(gen.actor_flags(0, profile, registry_role, extra)).accept().send(0, gen.PEER)


def test_supervision_seeds_spawn_reply_signal_and_reap(tmp_path):
    seeds = gen.supervision(new)
    text = "".join(trace(tmp_path, s) for s in seeds)
    for op in ("SUP_CALL", "CHILD_STARTED", "CHILD_START_FAILED", "CHILD_CONNECT", "CHILD_REPLY",
               "CHILD_EXIT"):
        assert f"op {op} " in text, op
    assert text.count("    spawn child ") >= 2 * len(seeds)
    assert "signal 15 to child" in text and "signal 9 to child" in text
    # Each seed ends in the shutdown epilogue, which the actor must leave by exiting.
    assert text.count("epilogue: shutdown") == len(seeds)


def test_op_bytes_below_0xf0_keep_their_meaning(tmp_path):
    # 0x10 is ACCEPT and 0xec SHUTDOWN as before (op % 16); 0xf0 a supervision
    # call (connection 0, spawn_list, no mutation, cid c0, caller 0).
    ops = bytes([0x10, 0xf0, 0, 5, 0, 0, 0, 0xec])
    text = trace(tmp_path, bytes([0x70, 0]) + ops)
    lines = [line for line in text.splitlines() if line.startswith("op ")]
    assert [line.split()[1] for line in lines] == ["ACCEPT", "SUP_CALL", "SHUTDOWN"]


def test_a_child_left_running_is_reaped_by_the_epilogue(tmp_path):
    # spawn_start, the process runs, nothing else: the end of the input shuts
    # the actor down and reports the child's exit; the actor exits.
    seed = new().send(0, gen.svc("spawn_start", {"name": "w0"}, "s1")).child_started(0).bytes()
    text = trace(tmp_path, seed)
    assert "spawn child 1 ('w0', " in text
    assert "epilogue: shutdown" in text
    assert "event 5 conn 0" in text      # SC_EV_EXIT
