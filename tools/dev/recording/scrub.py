# SPDX-License-Identifier: AGPL-3.0-or-later
"""Scrubbing of recordings: local file paths become placeholders.

Tracebacks (`tb_str`), tractor's start-up map and the side logs name files
of the machine that recorded them.  A `Scrubber` replaces each known
directory prefix by its placeholder (`<tractor>/`, `<app>/`,
`<site-packages>/`, `<stdlib>/`), in text and in every str of a message.

A scrubbed message is re-encoded, so that its `hex` and `msg` still agree.
Re-encoding is only trusted when it reproduces the recorded bytes of the
unscrubbed message first: that proves that no type (str against bin, array,
map key, float width, int width) changed on the way.
"""
import os
import re

import msgpack

# Arrays come back as tuples (they can be map keys, as in get_registry),
# str as str, bin as bytes: exactly tractor 0.1.0a4's reader.
UNPACK_OPTS = dict(raw=False, use_list=False, strict_map_key=False)
# A path that is still absolute inside a traceback line: `File "/...`.
ABSOLUTE_IN_TB = re.compile(r'File "/')


class ScrubError(Exception):
    """A message that cannot be scrubbed faithfully."""


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, **UNPACK_OPTS)


class Scrubber:
    """Replaces directory prefixes by placeholders.

    `prefixes` is a list of (directory, placeholder); the longest directory
    wins where one lies inside another (a tractor tree inside site-packages).
    """

    def __init__(self, prefixes):
        pairs = {}
        for directory, placeholder in prefixes:
            for form in {directory, os.path.realpath(directory)}:
                pairs.setdefault(form.rstrip("/") + "/", placeholder + "/")
        self.pairs = sorted(pairs.items(), key=lambda p: len(p[0]), reverse=True)

    def text(self, text):
        for directory, placeholder in self.pairs:
            text = text.replace(directory, placeholder)
        return text

    def value(self, value):
        """The value with every str scrubbed (map keys and nested values too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        return value

    def message(self, raw):
        """(scrubbed value, its encoding), or None when nothing needed scrubbing."""
        value = unpack(raw)
        scrubbed = self.value(value)
        if scrubbed == value:
            return None
        if pack(value) != raw:
            raise ScrubError("re-encoding does not reproduce the recorded bytes "
                             f"({raw[:24].hex()}...), so it would change a type")
        return scrubbed, pack(scrubbed)


def tb_strs(value):
    """Every str found under a "tb_str" key, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "tb_str" and isinstance(v, str):
                yield v
            else:
                yield from tb_strs(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from tb_strs(v)


def unscrubbed_tb_paths(value):
    """Traceback lines of a message that still name an absolute path."""
    return [line.strip() for tb in tb_strs(value) for line in tb.splitlines()
            if ABSOLUTE_IN_TB.search(line)]
