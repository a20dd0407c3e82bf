# SPDX-License-Identifier: AGPL-3.0-or-later
"""Valid conversations, and the deterministic stream of cases made from them.

A `Gen` draws everything from one `random.Random`: uids, cids (uuid4s built
from its bits, so a seed fixes them too), values and conversations.  Case i
of seed s uses its own generator seeded with "s/i", so a case does not depend
on the cases before it, and `--cases 5` runs the first five of `--cases 500`.
"""
import random
import uuid

from . import mutators
from .case import Case, msg

NS = "scwire_service"
NAME = "netfuzz"
# The functions a conversation can start, by their kind (spec/test-service.md).
CONVERSATIONS = ("echo", "raise_error", "count", "ctx_echo", "ctx_no_stream",
                 "sleep_forever", "ctx_return")


class Conversation:
    """Messages of one connection: the uid first; `cids` maps each cid to its function."""

    def __init__(self, uid):
        self.uid = uid
        self.messages = [uid]
        self.cids = {}

    def call(self, func, kwargs, cid):
        self.cids[cid] = func
        self.messages.append({"cmd": [NS, func, kwargs, self.uid, cid]})

    def actions(self, conn="c1"):
        return [msg(conn, m) for m in self.messages]


class Gen:
    def __init__(self, rng, codec):
        self.rng = rng
        self.codec = codec
        self.uid = [NAME, self.uuid()]

    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def cid(self):
        return self.uuid()

    def value(self, depth=0):
        """A small msgpack value of a random type."""
        r = self.rng
        pick = r.randrange(9 if depth < 2 else 7)
        if pick == 0:
            return None
        if pick == 1:
            return r.choice([True, False])
        if pick == 2:
            return r.choice([0, 1, -1, 127, 128, -33, 2 ** 31, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1])
        if pick == 3:
            return r.choice([0.0, 1.5, -2.25, 1e300])
        if pick == 4:
            return "".join(r.choice("abcxyz é") for _ in range(r.randrange(12)))
        if pick == 5:
            return bytes(r.randrange(256) for _ in range(r.randrange(8)))
        if pick == 6:
            return r.choice(["hi", 42, b"\x00"])
        if pick == 7:
            return [self.value(depth + 1) for _ in range(r.randrange(4))]
        return {f"k{i}": self.value(depth + 1) for i in range(r.randrange(4))}

    def kwargs(self, func):
        """Valid kwargs for a function of scwire_service."""
        return {
            "echo": lambda: {"value": self.value()},
            "raise_error": lambda: {"type_str": "ValueError", "text": "netfuzz"},
            "count": lambda: {"n": self.rng.randrange(6)},
            "ctx_echo": lambda: {"first": self.value()},
            "ctx_return": lambda: {"value": self.value()},
            "ctx_no_stream": lambda: {"value": self.value()},
            "sleep_forever": lambda: {},
        }[func]()

    def opened(self, func, kwargs=None):
        """A conversation that starts `func` and stops there; returns it and the cid."""
        conv = Conversation(self.uid)
        cid = self.cid()
        conv.call(func, self.kwargs(func) if kwargs is None else kwargs, cid)
        return conv, cid

    def conversation(self, func=None):
        """A valid conversation calling `func` (random when None), on one connection."""
        func = func or self.rng.choice(CONVERSATIONS)
        conv, cid = self.opened(func)
        if func == "ctx_echo":
            for _ in range(self.rng.randrange(4)):
                conv.messages.append({"yield": self.value(), "cid": cid})
            conv.messages.append({"stop": True, "cid": cid})
        elif func in ("ctx_no_stream", "sleep_forever"):
            self.cancel(conv, cid)
        return conv

    def cancel(self, conv, target):
        cid = self.cid()
        conv.cids[cid] = "_cancel_task"
        conv.messages.append({"cmd": ["self", "_cancel_task", {"cid": target}, self.uid, cid]})


def make_case(seed, index, codec="msgpack", families=None):
    names = families or list(mutators.FAMILIES)
    family = names[index % len(names)]
    gen = Gen(random.Random(f"{seed}/{index}"), codec)
    label, actions = mutators.FAMILIES[family](gen)
    return Case(index, family, label, actions)


def cases(seed, count, codec="msgpack", families=None, start=0):
    """Cases start .. start+count-1 of a seed (count None: without end)."""
    i = start
    while count is None or i < start + count:
        yield make_case(seed, i, codec, families)
        i += 1
