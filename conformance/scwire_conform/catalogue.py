# SPDX-License-Identifier: AGPL-3.0-or-later
"""The case catalogue (--catalogue PATH): every case as JSON, without running any.

It is meant for porting the suite to other languages.  Per case: its id
(`area/test_name[param]`), title (the first sentence of its docstring),
expectation (the first paragraph), spec ids with their levels, the highest
level claimed, area, role, markers, the suite fixtures it uses, its source
file and function, and the byte sequences it sends that are fixed in its
module:

- role: `server` when the suite connects to the IUT (the IUT serves);
  `client` when the suite plays the registry or parent and the IUT connects
  to it.  A case says so with `@pytest.mark.role("client")`; without the
  marker, a case that uses the `registry_server`, `scripted_registry` or
  `client_iut` fixture is `client`, any other `server`.
- static_bytes: `[{"hex", "send", "source"}]`.  From a module-level
  `STATIC_BYTES = {case: [hex or {"hex", "send"}, ...]}` where `case` is the
  test name with or without `[param]`, or the case id (source
  "STATIC_BYTES"); else from literal arguments of `send_raw(...)` /
  `send_body(...)` in the test function: bytes literals, `bytes.fromhex`
  of a str literal, and their concatenations and repetitions (source
  "literal").  `send` is "raw" (these bytes go on the wire as they are),
  "body" (a msgpack body: the codec frames it, lenprefix adds its 4-byte
  header) or "unspecified".
"""
import ast
import inspect
import os

ROLES = ("server", "client")
CLIENT_FIXTURES = ("registry_server", "scripted_registry", "client_iut")
# The fixtures worth naming to a porter (every case has iut, settings, case).
SUITE_FIXTURES = ("conn", "raw_conn", "fresh_conn_factory", "private_iut", "registry_server",
                  "scripted_registry", "client_iut", "hostile")
_RANK = {"MUST": 3, "SHOULD": 2, "MAY": 1}
_SENDERS = {"send_raw": "raw", "send_body": "body"}
MAX_LITERAL = 1 << 16


class CatalogueError(ValueError):
    pass


def highest_level(levels):
    """The highest of MUST > SHOULD > MAY among levels (None for none)."""
    known = [lv for lv in levels if lv in _RANK]
    return max(known, key=_RANK.get) if known else None


def role_of(item):
    """`server` or `client` (see the module text)."""
    m = item.get_closest_marker("role")
    if m is not None:
        role = m.args[0] if m.args else m.kwargs.get("role")
        if role not in ROLES:
            raise CatalogueError(f"{item.nodeid}: role must be one of {', '.join(ROLES)}, "
                                 f"not {role!r}")
        return role
    names = getattr(item, "fixturenames", ())
    return "client" if any(f in names for f in CLIENT_FIXTURES) else "server"


def const_bytes(node):
    """The bytes a constant expression evaluates to, or None when it is not one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
        return node.value
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Add):
            a, b = const_bytes(node.left), const_bytes(node.right)
            if a is not None and b is not None and len(a) + len(b) <= MAX_LITERAL:
                return a + b
        if isinstance(node.op, ast.Mult):
            for x, n in ((node.left, node.right), (node.right, node.left)):
                data = const_bytes(x)
                if (data is not None and isinstance(n, ast.Constant)
                        and type(n.value) is int and 0 <= len(data) * n.value <= MAX_LITERAL):
                    return data * n.value
        return None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "fromhex" and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "bytes" and len(node.args) == 1 and not node.keywords
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        try:
            return bytes.fromhex(node.args[0].value)
        except ValueError:
            return None
    return None


def literal_sends(func_node):
    """[{"hex", "send", "source"}] of send_raw/send_body calls with constant bytes."""
    out = []
    for node in ast.walk(func_node):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in _SENDERS and node.args):
            continue
        data = const_bytes(node.args[0])
        if data is not None:
            out.append({"hex": data.hex(), "send": _SENDERS[node.func.attr],
                        "source": "literal", "line": node.lineno})
    out.sort(key=lambda x: x["line"])
    for x in out:
        del x["line"]
    return out


class _Modules:
    """Parsed case modules, each read once."""

    def __init__(self):
        self._trees = {}

    def function(self, path, name):
        if path not in self._trees:
            try:
                with open(path, encoding="utf-8") as fh:
                    self._trees[path] = ast.parse(fh.read(), path)
            except (OSError, SyntaxError, UnicodeDecodeError):
                self._trees[path] = None
        tree = self._trees[path]
        if tree is None:
            return None
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                return node
        return None


def _static_table_entry(value, where):
    if isinstance(value, (bytes, bytearray)):
        return {"hex": bytes(value).hex(), "send": "unspecified", "source": "STATIC_BYTES"}
    if isinstance(value, dict):
        hexs, send = value.get("hex"), value.get("send", "unspecified")
    else:
        hexs, send = value, "unspecified"
    if not isinstance(hexs, str) or send not in ("raw", "body", "unspecified"):
        raise CatalogueError(f"{where}: STATIC_BYTES entries are hex strings or "
                             f"{{'hex': ..., 'send': 'raw'|'body'}}, not {value!r}")
    try:
        data = bytes.fromhex(hexs)
    except ValueError:
        raise CatalogueError(f"{where}: STATIC_BYTES entry {hexs!r} is not hex") from None
    return {"hex": data.hex(), "send": send, "source": "STATIC_BYTES"}


def static_bytes(item, case_id, modules):
    table = getattr(getattr(item, "module", None), "STATIC_BYTES", None)
    if isinstance(table, dict):
        fname = getattr(item, "originalname", item.name)
        for key in (case_id, item.name, fname):
            if key in table:
                values = table[key]
                if not isinstance(values, (list, tuple)):
                    values = [values]
                return [_static_table_entry(v, f"{item.nodeid}") for v in values]
    path = str(item.fspath)
    node = modules.function(path, getattr(item, "originalname", item.name))
    return literal_sends(node) if node is not None else []


def entry(item, case_id, area, spec_ids, levels, expectation, conformance_dir, modules):
    fname = getattr(item, "originalname", item.name)
    title = expectation.split(". ")[0].rstrip(".")
    markers = sorted({m.name for m in item.iter_markers()} - {"spec", "parametrize", "role"})
    callspec = getattr(item, "callspec", None)
    try:
        lineno = inspect.getsourcelines(item.function)[1]
    except (OSError, TypeError):
        lineno = None
    return {
        "id": case_id,
        "title": title,
        "area": area,
        "role": role_of(item),
        "level": highest_level(levels.get(r) for r in spec_ids),
        "spec_ids": [{"id": r, "level": levels.get(r)} for r in spec_ids],
        "expectation": expectation,
        "markers": markers,
        "fixtures": [f for f in SUITE_FIXTURES if f in getattr(item, "fixturenames", ())],
        "file": os.path.relpath(str(item.fspath), conformance_dir),
        "function": fname,
        "line": lineno,
        "param": callspec.id if callspec is not None else None,
        "static_bytes": static_bytes(item, case_id, modules),
    }


def build(meta, rows, requirements):
    """The catalogue dict: meta, the cases, and the text of the requirements they claim."""
    claimed = sorted({r["id"] for c in rows for r in c["spec_ids"]})
    reqs = {}
    for rid in claimed:
        req = requirements.get(rid)
        if req:
            reqs[rid] = {"level": req["level"], "file": req["file"], "line": req["line"],
                         "section": req["section"], "text": req["text"]}
    return {**meta, "count": len(rows), "cases": rows, "requirements": reqs}
