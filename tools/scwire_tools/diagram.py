# SPDX-License-Identifier: AGPL-3.0-or-later
"""Sequence diagrams of traces as self-contained SVG.

`sequence_svg(entries)` takes trace entries (the trace format of trace.py,
from a file, a packet capture or a conformance wire log) and returns an SVG
document as a str: one pair of lifelines per connection (the connecting side
on the left, the accepting side on the right), one row per message or event
in trace order, arrows labelled with kind, short cid and summary, and the
full message as a tooltip (<title>).  No script, no external font or
stylesheet: the file renders the same anywhere, inline in HTML too (class
names are prefixed so they do not clash with a host page).
"""
import html
import json
import re

from .classify import annotate, short_cid
from .trace import public

CHAR_W = 7.2          # width of one character of 12 px monospace, roughly
ROW_H = 24
HEAD_H = 56
LEFT = 92             # room for the time column
PAIR_GAP = 48         # between the server line of one conn and the next client line
KIND_COLORS = {
    "handshake": "#8e24aa", "cmd": "#1565c0", "functype": "#607d8b", "return": "#2e7d32",
    "started": "#2e7d32", "yield": "#37474f", "stop": "#607d8b", "error": "#c62828",
    "actor-error": "#c62828", "nil": "#607d8b", "other": "#c62828", "raw": "#c62828",
    "event": "#9e9e9e",
}
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
STYLE = """
.scwd-text { font-family: monospace; font-size: 12px; }
.scwd-head { font-family: monospace; font-size: 12px; font-weight: bold; }
.scwd-time { font-family: monospace; font-size: 11px; fill: #888; }
.scwd-life { stroke: #bbb; stroke-width: 1; stroke-dasharray: 4 3; }
.scwd-box { fill: #f5f5f5; stroke: #999; }
.scwd-event { font-family: monospace; font-size: 11px; fill: #888; }
"""


def _esc(text):
    """XML-safe text: escaped, and characters XML 1.0 forbids replaced."""
    return html.escape(_BAD_XML.sub("\ufffd", str(text)), quote=True)


def _names(entries, conns):
    """Per conn, the names of both sides, from the handshake when there is one."""
    names = {c: {"c2s": "client side", "s2c": "server side"} for c in conns}
    seen = set()
    for e in entries:
        if "event" in e or e.get("dir") not in ("c2s", "s2c"):
            continue
        key = (e["conn"], e["dir"])
        if key in seen:
            continue
        seen.add(key)
        m = e.get("msg")
        if isinstance(m, list) and m and isinstance(m[0], str):
            names[e["conn"]][e["dir"]] = m[0][:24]
    return names


def _tooltip(e):
    text = json.dumps(public(e).get("msg", public(e)), ensure_ascii=False)
    return text if len(text) <= 2000 else text[:2000] + "…"


def sequence_svg(entries, title=None, max_label=64, infos=None):
    """An SVG sequence diagram (str) of trace entries.

    `infos` (from classify.annotate over the whole trace) is needed when
    `entries` is a selection: which message is a handshake depends on the
    messages before it.
    """
    entries = list(entries)
    infos = list(infos) if infos is not None else annotate(entries)
    conns = []
    for e in entries:
        if e.get("conn") not in conns:
            conns.append(e.get("conn"))
    names = _names(entries, conns)

    labels = []
    for e, info in zip(entries, infos):
        if info["kind"] == "event":
            text = info["summary"]
        else:
            parts = (info["kind"], short_cid(info.get("cid")), info["summary"])
            text = " ".join(x for x in parts if x)
        labels.append(text if len(text) <= max_label else text[:max_label - 1] + "…")
    longest = max([len(t) for t in labels] + [12] +
                  [len(n) for c in conns for n in names[c].values()])
    gap = int(longest * CHAR_W) + 40
    # Header boxes are centred on their lifelines: keep neighbouring pairs'
    # boxes apart by at least one box width.
    head = max([len(f"{c} {n}") for c in conns for n in names[c].values()] + [8]) * CHAR_W + 16
    pair_gap = max(PAIR_GAP, int(head) + 16)
    xs = {}
    x = LEFT + int(head / 2) + 16
    for c in conns:
        xs[c] = (x, x + gap)
        x += gap + pair_gap
    width = max(int(x - pair_gap + head / 2 + 16), 360)
    top = HEAD_H + (24 if title else 0)
    height = top + ROW_H * (len(entries) + 1) + 30
    use_t = any(isinstance(e.get("t"), (int, float)) for e in entries)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">',
           f"<style>{STYLE}</style>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
    if title:
        out.append(f'<text class="scwd-head" x="12" y="20">{_esc(title)}</text>')
    bottom = height - 20
    for c in conns:
        for side, lx in zip(("c2s", "s2c"), xs[c]):
            label = f"{c} {names[c][side]}"
            w = len(label) * CHAR_W + 16
            out.append(f'<line class="scwd-life" x1="{lx}" y1="{top - 12}" x2="{lx}" '
                       f'y2="{bottom}"/>')
            out.append(f'<rect class="scwd-box" x="{lx - w / 2:.1f}" y="{top - 40}" '
                       f'width="{w:.1f}" height="26" rx="4"/>')
            out.append(f'<text class="scwd-head" x="{lx}" y="{top - 22}" text-anchor="middle">'
                       f'{_esc(label)}</text>')
    if not entries:
        out.append(f'<text class="scwd-event" x="{LEFT}" y="{top + 16}">(empty trace)</text>')

    for i, (e, info, label) in enumerate(zip(entries, infos, labels)):
        y = top + ROW_H * (i + 1)
        t = e.get("t")
        tlabel = f"{t:.6f}" if use_t and isinstance(t, (int, float)) else \
            (f"#{e['_line']}" if not use_t and "_line" in e else "")
        if tlabel:
            out.append(f'<text class="scwd-time" x="{LEFT - 8}" y="{y + 4}" text-anchor="end">'
                       f'{_esc(tlabel)}</text>')
        cx, sx = xs[e.get("conn")]
        color = KIND_COLORS.get(info["kind"], "#333")
        d = e.get("dir")
        ev = e.get("event")
        out.append("<g>")
        out.append(f"<title>{_esc(_tooltip(e))}</title>")
        if ev and ev != "decode_error":
            if ev in ("eof", "rst") and d in ("c2s", "s2c"):
                lx = cx if d == "c2s" else sx
                mark = "#c62828" if ev == "rst" else "#9e9e9e"
                out.append(f'<line x1="{lx - 8}" y1="{y}" x2="{lx + 8}" y2="{y}" stroke="{mark}" '
                           f'stroke-width="3"/>')
                anchor, tx = ("start", lx + 12) if d == "c2s" else ("end", lx - 12)
                out.append(f'<text class="scwd-event" x="{tx}" y="{y + 4}" text-anchor="{anchor}" '
                           f'fill="{mark}">{_esc(ev.upper())}</text>')
            else:
                out.append(f'<line x1="{cx}" y1="{y}" x2="{sx}" y2="{y}" stroke="#e0e0e0" '
                           f'stroke-width="6"/>')
                out.append(f'<text class="scwd-event" x="{(cx + sx) / 2}" y="{y + 4}" '
                           f'text-anchor="middle">{_esc(label)}</text>')
        else:
            x1, x2 = (cx, sx) if d == "c2s" else (sx, cx)
            sign = 1 if x2 > x1 else -1
            broken = ev == "decode_error" or info["kind"] == "raw"
            dash = ' stroke-dasharray="5 3"' if broken else ""
            out.append(f'<line x1="{x1}" y1="{y}" x2="{x2 - sign * 8}" y2="{y}" stroke="{color}" '
                       f'stroke-width="1.5"{dash}/>')
            hx = x2 - sign * 9
            out.append(f'<polygon points="{x2},{y} {hx},{y - 4} {hx},{y + 4}" fill="{color}"/>')
            out.append(f'<text class="scwd-text" x="{(cx + sx) / 2}" y="{y - 5}" '
                       f'text-anchor="middle" fill="{color}">{_esc(label)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
