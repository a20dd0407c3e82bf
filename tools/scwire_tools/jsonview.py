# SPDX-License-Identifier: AGPL-3.0-or-later
"""The JSON view of msgpack values, both ways.

Trace files and the stdin lines of scwire-send carry msgpack values as JSON.
JSON lacks some msgpack types, so they are written as one-key objects:

- `{"$bin": "<hex>"}`              a msgpack bin;
- `{"$map": [[k, v], ...]}`        a map whose keys are not all str;
- `{"$ext": [code, "<hex>"]}`      an ext value;
- `{"$float": "nan"|"inf"|"-inf"}` a float JSON cannot hold.

Arrays (tuples on tractor's side) are JSON arrays.  The view is the one of the
recorded tractor traces (vectors/tractor-0.1.0a4/README.md) and of the
conformance suite's wire logs.
"""
import math

import msgpack

SPECIAL_KEYS = ("$bin", "$map", "$ext", "$float")


class ViewError(ValueError):
    """A JSON value that does not follow the view's conventions."""


def to_json(value):
    """A JSON-compatible view of a decoded msgpack value."""
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: to_json(v) for k, v in value.items()}
        return {"$map": [[to_json(k), to_json(v)] for k, v in value.items()]}
    # ExtType is a namedtuple: test it before tuples.
    if isinstance(value, msgpack.ExtType):
        return {"$ext": [value.code, bytes(value.data).hex()]}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bin": bytes(value).hex()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    return value


def _hex(text, what):
    if not isinstance(text, str):
        raise ViewError(f"{what} needs a hex string, got {type(text).__name__}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ViewError(f"{what}: not hex: {text[:40]!r}") from None


def _hashable(v):
    # Arrays become tuples so that they can be map keys (get_registry is
    # keyed by [name, uuid] arrays); msgpack packs tuples as arrays anyway.
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        raise ViewError("a map cannot be a map key here")
    return v


def from_json(view, *, strings=None):
    """The msgpack value (Python objects) for a JSON view.

    `strings`, when given, is called on every str (keys included) and returns
    the value to use instead: scwire-send expands placeholders with it.
    """
    if isinstance(view, str):
        return strings(view) if strings else view
    if isinstance(view, list):
        return [from_json(v, strings=strings) for v in view]
    if isinstance(view, dict):
        if len(view) == 1:
            (key, arg), = view.items()
            if key == "$bin":
                return _hex(arg, "$bin")
            if key == "$map":
                if not isinstance(arg, list) or not all(
                        isinstance(p, list) and len(p) == 2 for p in arg):
                    raise ViewError("$map needs a list of [key, value] pairs")
                return {_hashable(from_json(k, strings=strings)): from_json(v, strings=strings)
                        for k, v in arg}
            if key == "$ext":
                if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], int)
                        and -128 <= arg[0] <= 127):
                    raise ViewError("$ext needs [code (-128..127), hex]")
                return msgpack.ExtType(arg[0], _hex(arg[1], "$ext"))
            if key == "$float":
                try:
                    return float(arg)
                except (TypeError, ValueError):
                    raise ViewError(f"$float: not a float: {arg!r}") from None
        out = {}
        for k, v in view.items():
            k2 = strings(k) if strings else k
            out[_hashable(k2)] = from_json(v, strings=strings)
        return out
    return view
