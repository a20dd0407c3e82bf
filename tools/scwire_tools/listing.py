# SPDX-License-Identifier: AGPL-3.0-or-later
"""The listing of a trace: one line per message or event, plain, ANSI or HTML.

Input is a list of `(entry, info)` pairs, `info` from classify.annotate (which
must see the whole trace, since the handshake is "the first message each
way").  A line shows time (or the trace line number), conn, an arrow by
direction, the kind, the cid cut to 8 characters and a summary; errors show
type_str and the last line of tb_str, the traceback itself folded unless
asked for.
"""
import html

from .classify import short_cid

# ANSI SGR codes.  Direction colours the conn and arrow, kind the rest.
_DIR_COLOR = {"c2s": "36", "s2c": "33"}
_KIND_COLOR = {
    "handshake": "35", "cmd": "1;34", "functype": "2", "return": "32", "started": "32",
    "yield": "0", "stop": "2", "error": "1;31", "actor-error": "1;31", "nil": "2",
    "other": "31", "raw": "31", "event": "2",
}
_EVENT_ARROW = {
    ("eof", "c2s"): "--|", ("eof", "s2c"): "|--", ("rst", "c2s"): "--X", ("rst", "s2c"): "X--",
    ("decode_error", "c2s"): "-?>", ("decode_error", "s2c"): "<?-",
}
KIND_WIDTH = 11


def _time(entry, use_t):
    if use_t:
        t = entry.get("t")
        return f"{t:10.6f}" if isinstance(t, (int, float)) else " " * 10
    line = entry.get("_line")
    return f"#{line}".rjust(10) if line is not None else " " * 10


def arrow(entry):
    """The arrow drawn for an entry: --> c2s, <-- s2c, other marks for events."""
    if "event" in entry:
        ev = entry["event"]
        return _EVENT_ARROW.get((ev, entry.get("dir")), "===" if ev in ("open", "close") else "---")
    return "-->" if entry.get("dir") == "c2s" else "<--"


def make_rows(pairs):
    """Plain fields of each line: time, conn, dir, arrow, kind, cid, summary, entry."""
    use_t = any(isinstance(e.get("t"), (int, float)) for e, _ in pairs)
    rows = []
    for e, info in pairs:
        rows.append({
            "time": _time(e, use_t), "conn": str(e.get("conn", "")), "dir": e.get("dir"),
            "arrow": arrow(e), "kind": info["kind"], "event": "event" in e,
            "cid": short_cid(info.get("cid")), "summary": info["summary"], "entry": e,
        })
    return rows


def _tb_lines(entry):
    """The traceback of an error message, for --full-tb."""
    msg = entry.get("msg")
    err = msg.get("error") if isinstance(msg, dict) else None
    tb = err.get("tb_str") if isinstance(err, dict) else None
    return tb.rstrip("\n").splitlines() if isinstance(tb, str) else []


def render_text(rows, color=False, full_tb=False):
    """The listing as text lines; ANSI colours when `color`."""
    if not rows:
        return []
    cw = max(len(r["conn"]) for r in rows)

    def paint(code, text):
        return f"\x1b[{code}m{text}\x1b[0m" if color and code != "0" else text

    out = []
    for r in rows:
        dcol = _DIR_COLOR.get(r["dir"], "2")
        kcol = _KIND_COLOR.get(r["kind"], "0")
        if r["event"]:
            line = (f"{paint('2', r['time'])}  {paint(dcol, r['conn'].ljust(cw))}  "
                    f"{paint(dcol, r['arrow'])}  {paint('2', r['summary'])}")
        else:
            line = (f"{paint('2', r['time'])}  {paint(dcol, r['conn'].ljust(cw))}  "
                    f"{paint(dcol, r['arrow'])}  {paint(kcol, r['kind'].ljust(KIND_WIDTH))} "
                    f"{r['cid'].ljust(8)}  {paint(kcol, r['summary'])}")
        out.append(line.rstrip())
        if full_tb and r["kind"] in ("error", "actor-error"):
            for tb in _tb_lines(r["entry"]):
                out.append(" " * (cw + 31) + paint("2", "| " + tb))
    return out


CSS = """
.scw-listing { font-family: monospace; font-size: 12px; line-height: 1.35; }
.scw-d-c2s { color: #00838f; } .scw-d-s2c { color: #a06000; }
.scw-k-handshake { color: #8e24aa; } .scw-k-cmd { color: #1565c0; font-weight: bold; }
.scw-k-functype, .scw-k-stop, .scw-k-nil, .scw-k-event, .scw-time { color: #777; }
.scw-k-return, .scw-k-started { color: #2e7d32; }
.scw-k-error, .scw-k-actor-error { color: #c62828; font-weight: bold; }
.scw-k-other, .scw-k-raw { color: #c62828; }
.scw-tb { color: #777; }
"""


def render_html(rows, full_tb=False):
    """The listing as an HTML <pre> block (classes styled by CSS)."""
    if not rows:
        return '<pre class="scw-listing">(no entries)</pre>'
    cw = max(len(r["conn"]) for r in rows)
    esc = html.escape
    out = []
    for r in rows:
        d = f"scw-d-{r['dir'] or 'none'}"
        k = f"scw-k-{r['kind']}"
        head = (f'<span class="scw-time">{esc(r["time"])}</span>  '
                f'<span class="{d}">{esc(r["conn"].ljust(cw))}  {esc(r["arrow"])}</span>  ')
        if r["event"]:
            out.append(head + f'<span class="scw-k-event">{esc(r["summary"])}</span>')
        else:
            out.append(head + f'<span class="{k}">{esc(r["kind"].ljust(KIND_WIDTH))}</span> '
                       f'{esc(r["cid"].ljust(8))}  <span class="{k}">{esc(r["summary"])}</span>')
        if full_tb and r["kind"] in ("error", "actor-error"):
            for tb in _tb_lines(r["entry"]):
                out.append(" " * (cw + 31) + f'<span class="scw-tb">| {esc(tb)}</span>')
    return '<pre class="scw-listing">' + "\n".join(out) + "</pre>"


def group_by_cid(pairs):
    """The pairs grouped by context: a list of (title, pairs).

    Groups come in order of first appearance.  Entries without a cid (uids,
    nil, events) form one group per connection.  A `self._cancel_task` command
    stays in its own context's group.
    """
    groups = {}
    titles = {}
    for e, info in pairs:
        c = info.get("cid")
        key = (e.get("conn"), c)
        if key not in groups:
            groups[key] = []
            titles[key] = f"{e.get('conn')} cid {c}" if c is not None else \
                f"{e.get('conn')} (no cid: handshake, nil, events)"
        if c is not None and info["kind"] == "cmd" and not titles[key].endswith(")"):
            titles[key] += f"  {info['summary'].split('(', 1)[0]}()"
        groups[key].append((e, info))
    return [(titles[k], v) for k, v in groups.items()]


def stats(pairs):
    """Counts per kind, per conn and per context, and bytes per direction: text lines."""
    kinds, per_conn, per_ctx = {}, {}, {}
    nbytes = {"c2s": 0, "s2c": 0}
    nmsgs = {"c2s": 0, "s2c": 0}
    events = 0
    times = [e["t"] for e, _ in pairs if isinstance(e.get("t"), (int, float))]
    for e, info in pairs:
        conn = e.get("conn")
        pc = per_conn.setdefault(conn, {"c2s": 0, "s2c": 0, "bytes_c2s": 0, "bytes_s2c": 0,
                                        "events": []})
        if "event" in e:
            events += 1
            pc["events"].append(e["event"] + (f"({e['dir']})" if e.get("dir") else ""))
            continue
        d = e.get("dir")
        n = len(e.get("hex", "")) // 2
        kinds[info["kind"]] = kinds.get(info["kind"], 0) + 1
        nbytes[d] += n
        nmsgs[d] += 1
        pc[d] += 1
        pc["bytes_" + d] += n
        c = info.get("cid")
        if c is not None:
            ctx = per_ctx.setdefault((conn, c), {"kinds": {}, "func": "", "last": ""})
            ctx["kinds"][info["kind"]] = ctx["kinds"].get(info["kind"], 0) + 1
            if info["kind"] == "cmd":
                ctx["func"] = info["summary"].split("(", 1)[0]
            ctx["last"] = info["kind"]
    total = nmsgs["c2s"] + nmsgs["s2c"]
    out = [f"messages {total}, events {events}, connections {len(per_conn)}, "
           f"contexts {len(per_ctx)}"]
    if len(times) >= 2:
        out[0] += f", duration {max(times) - min(times):.6f} s"
    out.append(f"bytes c2s {nbytes['c2s']} in {nmsgs['c2s']} messages, "
               f"s2c {nbytes['s2c']} in {nmsgs['s2c']} messages (msgpack bodies, "
               f"without lenprefix headers)")
    out.append("per kind:")
    for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"  {k:<12} {n:>6}")
    out.append("per connection:")
    for conn, pc in per_conn.items():
        ev = " ".join(pc["events"])
        ev = f"   events: {ev}" if ev else ""
        out.append(f"  {conn:<6} c2s {pc['c2s']:>4} msgs {pc['bytes_c2s']:>7} B   "
                   f"s2c {pc['s2c']:>4} msgs {pc['bytes_s2c']:>7} B{ev}")
    out.append("per context:")
    if not per_ctx:
        out.append("  (none)")
    for (conn, c), ctx in per_ctx.items():
        ks = ", ".join(f"{k} {n}" for k, n in ctx["kinds"].items())
        func = ctx["func"] or "?"
        out.append(f"  {conn:<6} {short_cid(c)}  {func:<28} {ks}   (last: {ctx['last']})")
    return out
