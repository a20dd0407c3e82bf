# SPDX-License-Identifier: AGPL-3.0-or-later
"""Self-tests of the conversation normalizer."""
import json
import os
import uuid

import pytest

from scwire_conform import normalize

VECTORS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "vectors", "tractor-0.1.0a4")


def u():
    return str(uuid.uuid4())


def conversation(cid_a, cid_b, me, peer, tb):
    return [
        {"t": 0.1, "conn": "c1", "event": "open"},
        {"t": 0.2, "conn": "c1", "dir": "c2s", "hex": "00", "msg": ["client", me]},
        {"t": 0.3, "conn": "c1", "dir": "s2c", "hex": "00", "msg": ["server", peer]},
        {"conn": "c1", "dir": "c2s", "hex": "00",
         "msg": {"cmd": ["svc", "boom", {}, ["client", me], cid_a]}},
        {"conn": "c1", "dir": "s2c", "hex": "00", "msg": {"functype": "asyncfunc", "cid": cid_a}},
        {"conn": "c1", "dir": "s2c", "hex": "00",
         "msg": {"error": {"tb_str": tb, "type_str": "ValueError"}, "cid": cid_a}},
        {"conn": "c1", "dir": "c2s", "hex": "00",
         "msg": {"cmd": ["self", "_cancel_task", {"cid": cid_a}, ["client", me], cid_b]}},
        {"conn": "c1", "dir": "s2c", "hex": "00", "msg": {"return": None, "cid": cid_b}},
    ]


def test_equal_modulo_cids_uuids_and_tracebacks():
    a = conversation(u(), u(), u(), u(), "Traceback...\n  File x\nValueError: boom\n")
    b = conversation(u(), u(), u(), u(), "Traceback (other)\nbuiltins.ValueError: kaboom")
    na, nb = normalize.normalize(a), normalize.normalize(b)
    assert na == nb
    assert normalize.diff(normalize.messages(na), normalize.messages(nb)) == []
    msgs = normalize.messages(na)
    assert msgs[2]["cmd"][4] == "<cid1>"
    assert msgs[4]["error"]["tb_str"] == "<tb ValueError>"
    assert msgs[5]["cmd"][2] == {"cid": "<cid1>"} and msgs[5]["cmd"][4] == "<cid2>"
    assert msgs[0] == ["client", "<uuid1>"] and msgs[1] == ["server", "<uuid2>"]


def test_cids_are_renamed_consistently_not_by_position():
    c1, c2 = u(), u()
    a = normalize.normalize(conversation(c1, c2, "m", "p", ""))
    b = normalize.normalize(conversation(c1, c1, "m", "p", ""))   # cancel reuses the cid
    d = normalize.diff(normalize.messages(a), normalize.messages(b))
    assert d and "<cid2>" in d[0]


def test_tb_modes_names_and_events():
    assert normalize.tb_summary("x\nKeyError: 'k'") == "<tb KeyError>"
    assert normalize.tb_summary("no type here!") == "<tb>"
    assert normalize.tb_summary("x\nValueError: y", mode="drop") == "<tb>"
    conv = conversation(u(), u(), "m", "p", "")
    named = normalize.normalize(conv, uid_names=True, events=False)
    assert "event" not in named[0]
    assert named[0]["msg"][0] == "<name1>" and named[1]["msg"][0] == "<name2>"
    assert named[2]["msg"]["cmd"][3][0] == "<name1>"


def test_maps_with_non_str_keys_and_lengths():
    e = [{"conn": "c1", "dir": "s2c", "msg": {"$map": [[[1, u()], "x"]]}}]
    assert normalize.messages(normalize.normalize(e)) == [{"$map": [[[1, "<uuid1>"], "x"]]}]
    assert normalize.diff([1], [1, 2]) == ["lengths 1 != 2; first extra: 2"]


def test_load_trace(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps(e) for e in conversation("a", "b", "m", "p", "")) + "\n")
    assert len(normalize.load_trace(p)) == 8


def test_recorded_tractor_traces_normalize_alike():
    # Two recordings of the same start-up (probe, register) differ only in
    # random ids and ports once normalized.
    a = normalize.load_trace(os.path.join(VECTORS, "rpc_return.jsonl"))
    b = normalize.load_trace(os.path.join(VECTORS, "rpc_error.jsonl"))
    na = normalize.messages(normalize.normalize(a), conn="c2")
    nb = normalize.messages(normalize.normalize(b), conn="c2")
    assert na[0] == nb[0]   # the client's uid
    assert na[3:] == nb[3:]  # functype and return of register_actor
