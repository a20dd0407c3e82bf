# SPDX-License-Identifier: AGPL-3.0-or-later
"""Golden-trace replay: the recorded tractor 0.1.0a4 conversations played against the IUT.

For every recording in which the suite can play the client side (the --vectors
directory, by default conformance/vectors/tractor-0.1.0a4), the client's
messages are sent to the IUT connection by connection and the IUT's replies
are compared per cid with the recorded daemon's, normalized (replay.py).  The
recorded daemon was the registry too, so recordings that register run against
an IUT in the registry role (the session IUT with --iut-registry, else a
scwire-ref of the case's own with --registry-role); without one, registry
messages are left out.

Where the spec deliberately differs from tractor, the case judges by the spec
and names both outcomes; with --expect-profile tractor it judges by the
recording: `stop` sent twice by a context callee, and the hostile `k*` rows
after which tractor exits.  Parent/child recordings (spawn_run_cancel,
run_in_actor_*) are not replayed: the suite cannot play a parent yet.
"""
import os

import pytest

from scwire_conform import replay
from scwire_conform.msgs import new_cid
from scwire_conform.profiles import TRACTOR
from scwire_conform.verdict import Violation, info, must, robust
from scwire_conform.wire import SERVICE, Closed, Timeout
from scwire_conform.wirelog import short

GROUPS = {
    "rpc": ["rpc_return", "rpc_error", "c_rpc_return", "d_rpc_error"],
    "asyncgen": ["asyncgen", "e_asyncgen", "e2_asyncgen_early_break",
                 "e3_asyncgen_early_break_overrun"],
    "context": ["context_stream", "context_error", "context_overrun", "context_cancel",
                "f_context_stream", "g_context_overrun"],
    "registry": ["registry", "i_registry"],
    "cancel": ["cancel_task", "h_cancel_actor", "h2_cancel_actor_inflight"],
    "handshake": ["a_handshake", "b_connect_drop"],
    "unknown-cid": ["j_unknown_cid"],
    "hostile": ["k1_no_cmd_no_cid", "k2_non_map", "k3_garbage_byte", "k4_bad_uid",
                "k5_cmd_errors", "k6_cmd_self_unknown"],
}
NOT_A_CLIENT = ("spawn_run_cancel", "run_in_actor_result", "run_in_actor_error")
SKIP = {
    "e2_asyncgen_early_break": "how many yields leave before the caller's cancel lands varies "
                               "run to run (vectors README, caveats), so the exchange cannot be "
                               "replayed message by message",
    "e3_asyncgen_early_break_overrun": "an overrun ping-pong whose length depends on timing "
                                       "(vectors README, caveats); OVR-5 forbids the IUT's half "
                                       "of it, see the overrun area",
}
# The hostile rows after which tractor 0.1.0a4 exits: what the spec asks instead.
K_SPEC = {
    "k1_no_cmd_no_cid": ("the map rejected (no reply, connection usable) or the connection "
                         "closed (SEC-3)", "rejected-or-closed"),
    "k2_non_map": ("the message rejected (no reply, connection usable) or the connection "
                   "closed (SEC-3)", "rejected-or-closed"),
    "k3_garbage_byte": ("the connection closed (FRAME-12)", "closed"),
    "k4_bad_uid": ("the connection closed (HS-6)", "closed"),
    "k6_cmd_self_unknown": ("one error AttributeError on the cid, no functype, the connection "
                            "usable (SELF-2)", "attribute-error"),
}
FUNC_GROUP = {}


def pytest_generate_tests(metafunc):
    if "recording" not in metafunc.fixturenames:
        return
    group = FUNC_GROUP[metafunc.function.__name__]
    vdir = os.path.abspath(metafunc.config.getoption("--vectors"))
    files = {os.path.basename(p)[:-len(".jsonl")]: p for p in replay.recordings(vdir)}
    names = list(GROUPS[group])
    if group == "rpc":
        known = {n for g in GROUPS.values() for n in g} | set(NOT_A_CLIENT)
        names += sorted(n for n in files if n not in known)
    if not files:
        params = [pytest.param((vdir, None), id="vectors-absent")]
    else:
        params = []
        for n in names:
            marks = [pytest.mark.tractor_kills] if n in K_SPEC else []
            params.append(pytest.param((vdir, files.get(n), n), id=n, marks=marks))
    metafunc.parametrize("recording", params)


def group(name):
    def deco(fn):
        FUNC_GROUP[fn.__name__] = name
        return fn
    return deco


def load(recording):
    vdir, path = recording[0], recording[1]
    if path is None and len(recording) == 2:
        pytest.skip(f"the recorded tractor traces are not at {vdir} (give --vectors DIR)")
    name = recording[2]
    if path is None:
        pytest.skip(f"{name}.jsonl is not in {vdir}")
    if name in SKIP:
        pytest.skip(SKIP[name])
    if not any(name in g for g in GROUPS.values()):
        pytest.skip(f"no replay plan for the recording {name}.jsonl")
    return replay.Recording(path)


def target_for(rec, iut, private_iut, settings):
    """(IUT, whether it is a registry) to replay rec against."""
    if rec.cancels_actor():
        if not settings.iut_cmd:
            pytest.skip("this recording ends the actor (self.cancel); it needs an IUT of its "
                        "own and this run attaches to a running IUT")
        if rec.uses_registry() and "registry-role" in settings.caps:
            return private_iut("--registry-role"), True
        return private_iut(), False
    if not rec.uses_registry():
        return iut, bool(settings.registry)
    if settings.registry:
        return iut, True
    if settings.iut_cmd and "registry-role" in settings.caps:
        return private_iut("--registry-role"), True
    return iut, False


def run(rec, fresh_conn_factory, iut, private_iut, settings, profile, probe=False):
    target, registry = target_for(rec, iut, private_iut, settings)
    r = replay.Replayer(rec, fresh_conn_factory, target=target, registry=registry,
                        prompt=settings.prompt, timeout=settings.timeout, profile=profile,
                        probe=probe, shared=registry and target is iut)
    try:
        r.run()
    finally:
        r.cleanup()
    return r, target


def judge_conversation(rec, r, profile):
    """Compare every replayed connection with the recording, for the profile."""
    diffs, skipped, stops, compared = [], [], {}, 0
    for res in r.results:
        diffs += res.diffs + replay.compare(res, profile)
        skipped += [s for s in res.skipped if s not in skipped]
        stops.update(replay.stop_counts(res))
        compared += len(res.expected)
    if not compared:
        pytest.skip(f"nothing of {rec.name} is left to compare: " + "; ".join(skipped))
    notes = []
    for cid, (theirs, ours) in stops.items():
        notes.append(f"cid {cid}: tractor 0.1.0a4 sent stop x{theirs}, the IUT x{ours} (the spec "
                     f"allows one or more, SVC-13/SVC-17; --expect-profile tractor wants "
                     f"x{theirs})")
    if skipped:
        notes.append("left out: " + "; ".join(skipped))
    notes += r.notes
    judged = "as recorded (--expect-profile tractor)" if profile == TRACTOR else \
        "modulo the spec's deliberate differences"
    must(not diffs, f"{rec.name}: the IUT's replies differ from the recorded tractor 0.1.0a4 "
                    f"ones, {judged}: " + " | ".join(diffs[:6])
                    + (f" | and {len(diffs) - 6} more" if len(diffs) > 6 else "")
                    + (f" [{'; '.join(notes)}]" if notes else ""))
    info(f"{rec.name}: {compared} recorded replies on {len(r.results)} connections match, "
         f"{judged}" + (f"; {'; '.join(notes)}" if notes else ""))


def replay_case(recording, fresh_conn_factory, iut, private_iut, settings, profile):
    rec = load(recording)
    r, target = run(rec, fresh_conn_factory, iut, private_iut, settings, profile)
    judge_conversation(rec, r, profile)
    if rec.cancels_actor():
        # The recording ends the actor with self.cancel: it must exit (SELF-9).
        rc = target.wait_exit(settings.prompt)
        must(rc is not None, f"the IUT still runs {settings.prompt:g} s after answering "
                             f"self.cancel", rid="SELF-9")
    return rec, r


@group("rpc")
@pytest.mark.spec("SVC-5", "RPC-1", "RPC-2", "RPC-3", "RPC-6", "SVC-8", "SVC-9")
def test_svc_5_replay_rpc_conversations(recording, fresh_conn_factory, iut, private_iut,
                                        settings, expect_profile):
    """The recorded tractor client's echo, failing calls and refused commands (namespace
    not exposed, unknown function), replayed, get the replies the tractor daemon gave,
    per cid, modulo cids, uids and tracebacks."""
    replay_case(recording, fresh_conn_factory, iut, private_iut, settings, expect_profile)


@group("asyncgen")
@pytest.mark.spec("RPC-7", "SVC-12", "SELF-5")
def test_rpc_7_replay_asyncgen_conversations(recording, fresh_conn_factory, iut, private_iut,
                                             settings, expect_profile):
    """The recorded count(n) streams, read to the end and followed by the client's
    _cancel_task of the finished cid, get functype asyncgen, the yields, stop, and a
    nil return for the cancel, as from tractor."""
    replay_case(recording, fresh_conn_factory, iut, private_iut, settings, expect_profile)


@group("context")
@pytest.mark.spec("RPC-8", "CTX-4", "OVR-2", "SELF-6", "SVC-13", "SVC-14", "SVC-15")
def test_rpc_8_replay_context_conversations(recording, fresh_conn_factory, iut, private_iut,
                                            settings, expect_profile):
    """The recorded contexts (echo stream, error after started, 100 and 65 yields into a
    context without a stream, cancel) get the replies tractor gave: the same started,
    echoes, StreamOverrun errors (37 and 1), ContextCancelled and returns; the callee
    may send stop once where tractor sent it twice."""
    replay_case(recording, fresh_conn_factory, iut, private_iut, settings, expect_profile)


@group("registry")
@pytest.mark.spec("REG-5", "REG-6", "REG-8", "REG-10", "REG-2", "REG-4")
def test_reg_5_replay_registry_conversations(recording, fresh_conn_factory, iut, private_iut,
                                             settings, expect_profile):
    """The recorded registry calls (register, find_actor, wait_for_actor, get_registry
    keyed by [name, uuid], unregister), replayed against an IUT in the registry role
    whose own identity stands in for the recorded daemon's, get tractor's answers."""
    replay_case(recording, fresh_conn_factory, iut, private_iut, settings, expect_profile)


@group("cancel")
@pytest.mark.spec("SELF-8", "CAN-3", "SELF-9")
def test_self_8_replay_cancel_conversations(recording, fresh_conn_factory, iut, private_iut,
                                           settings, expect_profile):
    """A sleep_forever whose client just closes, and self.cancel (with and without a
    request in flight) get what tractor sent: functype, `return true` for the cancel,
    nothing for the interrupted request, then the end of the connection."""
    replay_case(recording, fresh_conn_factory, iut, private_iut, settings, expect_profile)


@group("handshake")
@pytest.mark.spec("HS-1", "HS-8")
def test_hs_1_replay_handshake_and_probes(recording, fresh_conn_factory, iut, private_iut,
                                          settings, expect_profile):
    """The recorded handshake (both uids at once, then the client's FIN) and
    connect-and-drop probes followed by a registration get the same replies."""
    replay_case(recording, fresh_conn_factory, iut, private_iut, settings, expect_profile)


@group("unknown-cid")
@pytest.mark.spec("CID-6", "CAN-1")
def test_cid_6_replay_unknown_cids(recording, fresh_conn_factory, iut, private_iut, settings,
                                   expect_profile):
    """yield, return, stop and error with unknown cids get no reply and leave the
    channel usable (the following echo is answered); nil ends the channel, as recorded."""
    replay_case(recording, fresh_conn_factory, iut, private_iut, settings, expect_profile)


def iut_down(target, settings, expected):
    """Reasons the IUT is down (process exited, fresh connections refused or unserved);
    when it is expected down, its process gets `prompt` seconds to exit."""
    why = []
    if getattr(target, "managed", False) and target.proc is not None:
        rc = target.wait_exit(settings.prompt if expected else 0.05)
        if rc is not None:
            why.append(f"the IUT process exited with status {rc}")
    if not why:
        try:
            from scwire_conform.wire import Conn
            c = Conn.connect(target.host, target.port, settings.codec, timeout=settings.prompt)
            try:
                c.handshake()
                token = "alive " + new_cid()
                r = c.call(SERVICE, "echo", value=token, timeout=settings.prompt)
                if r.kind != "return" or r.value != token:
                    why.append(f"a fresh connection's echo answered {short(r.final)}")
            finally:
                c.close()
        except (Violation, Closed, Timeout, OSError) as e:
            why.append(f"a fresh connection failed: {type(e).__name__}: {e}")
    return why


@group("hostile")
@pytest.mark.spec("SEC-3", "SEC-1", "HS-6", "FRAME-12", "SELF-2", "RPC-2", "RPC-3")
@pytest.mark.may_kill
def test_sec_3_replay_hostile_rows(recording, fresh_conn_factory, iut, private_iut, settings,
                                   expect_profile):
    """The recorded malformed inputs (k1-k6: a map with neither cmd nor cid, the integer
    42, the byte 0xc1, 42 as the uid, refused commands, an unknown self method), after
    which tractor 0.1.0a4 exits, are answered as the spec asks: the message rejected
    or the connection closed (or an AttributeError error), and the IUT keeps serving."""
    rec = load(recording)
    if rec.name not in K_SPEC:
        replay_case(recording, fresh_conn_factory, iut, private_iut, settings, expect_profile)
        return
    spec_text, kind = K_SPEC[rec.name]
    r, target = run(rec, fresh_conn_factory, iut, private_iut, settings, expect_profile,
                    probe=True)
    res = r.results[-1]
    after = [v for v in res.got if not (isinstance(v, list) and v == r.identity.rec_uid)]
    recorded = [v for v in res.expected if not (isinstance(v, list) and v == rec.server_uid)]
    down = iut_down(target, settings, True) if expect_profile == TRACTOR else []
    alive_why = [] if expect_profile == TRACTOR else iut_down(target, settings, False)
    tractor_text = (f"tractor 0.1.0a4 (recorded) sent {replay.describe(recorded) or 'nothing'}, "
                    f"closed, and its daemon "
                    + ("survived" if rec.daemon_alive else
                       f"exited with status {rec.daemon_status}"))
    observed = (f"the IUT sent {replay.describe(after) or 'nothing'}, "
                + (f"closed the connection ({res.closed})" if res.closed else
                   f"kept the connection open ({'usable' if res.usable else 'not answering'})"))
    if expect_profile == TRACTOR:
        diffs = replay.compare(res, TRACTOR)
        must(not diffs and down, f"judged by tractor 0.1.0a4: expected {tractor_text}; "
                                 f"observed {observed}; the IUT is "
                                 + ("down: " + "; ".join(down) if down else "still up")
                                 + (f"; differences: {'; '.join(diffs)}" if diffs else "")
                                 + f" (the spec asks for {spec_text})")
        info(f"{observed}; the IUT went down ({'; '.join(down)}); as tractor: {tractor_text}; "
             f"the spec asks for {spec_text}")
        return
    only_nil = all(v is None for v in after)
    if kind == "rejected-or-closed":
        ok = (res.closed and only_nil) or (not res.closed and res.usable and not after)
    elif kind == "closed":
        ok = bool(res.closed) and only_nil
    else:
        cid = next(e["msg"]["cmd"][4] for e in rec.entries if e.get("dir") == "c2s"
                   and isinstance(e.get("msg"), dict) and "cmd" in e["msg"])
        ok = (not res.closed and res.usable and len(after) == 1
              and isinstance(after[0], dict) and after[0].get("cid") == cid
              and isinstance(after[0].get("error"), dict)
              and after[0]["error"].get("type_str") == "AttributeError")
    must(ok, f"expected {spec_text}; observed {observed} ({tractor_text})")
    if alive_why and getattr(target, "managed", False) and target.alive():
        target.wait_exit(settings.timeout)      # let a dying IUT finish dying
    robust(not alive_why, f"SEC-1: the IUT must keep serving; {'; '.join(alive_why)} "
                          f"({tractor_text})")
    info(f"{observed}, and keeps serving: as the spec asks ({spec_text}); {tractor_text}")
