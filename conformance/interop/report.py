# SPDX-License-Identifier: AGPL-3.0-or-later
"""The reports of an interop run: the terminal table, interop.json, interop.html.

A cell reads like quic-interop-runner's: `passed/total`, then the letters of
the scenarios that passed (✓), failed (✕) and were skipped (?).  The HTML page
is self-contained (inline CSS, no script): the matrix in colour, each cell
linking to its scenarios (result, reason, duration, transcript and logs), and
the differential replay.
"""
import html
import json


MARKS = (("PASS", "✓"), ("FAIL", "✕"), ("SKIP", "?"))


def letters(cell, result):
    return "".join(r["letter"] for r in cell["results"] if r["result"] == result)


def cell_text(cell):
    parts = [f"{cell['passed']}/{cell['total']}"]
    parts += [mark + letters(cell, res) for res, mark in MARKS if letters(cell, res)]
    return " ".join(parts)


def find_cell(doc, client, server):
    return next(c for c in doc["cells"] if c["client"] == client and c["server"] == server)


# --- terminal ---------------------------------------------------------------------------

def terminal(doc):
    lines = matrix_lines(doc) + outcome_lines(doc, "FAIL") + skip_lines(doc)
    lines += replay_lines(doc.get("differential_replay"))
    lines.append(f"{doc['failed_cells']} cell(s) with a FAIL; exit status {doc['exit_status']}; "
                 f"reports: {doc['json']}, {doc['html']}")
    return "\n".join(lines)


def matrix_lines(doc):
    if not doc["cells"]:
        return ["interop matrix: not run"]
    lines = [f"interop matrix, codec {doc['codec']}: rows are clients, columns are servers"]
    rows, cols = doc["clients"], doc["servers"]
    table = [[""] + cols] + [[r] + [cell_text(find_cell(doc, r, c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        lines.append("  ".join(text.ljust(w) for text, w in zip(row, widths)).rstrip())
    return lines + ["scenarios: " + ", ".join(f"{s['letter']} {s['id']}"
                                              for s in doc["scenarios"])]


def outcome_lines(doc, result):
    out = []
    for cell in doc["cells"]:
        for r in cell["results"]:
            if r["result"] == result:
                out.append(f"  {result} {cell['client']} -> {cell['server']} {r['letter']} "
                           f"{r['scenario']}: {r['reason']}"
                           + (f" [{r['transcript']}]" if r.get("transcript") else ""))
    return (["failures:"] + out) if out else []


def skip_lines(doc):
    """Each distinct SKIP reason once, with the cells and letters it covers."""
    by_reason = {}
    for cell in doc["cells"]:
        for r in cell["results"]:
            if r["result"] == "SKIP":
                key = f"{cell['client']} -> {cell['server']}"
                by_reason.setdefault(r["reason"], {}).setdefault(key, "")
                by_reason[r["reason"]][key] += r["letter"]
    out = [f"  SKIP {', '.join(f'{k} {v}' for k, v in cells.items())}: {reason}"
           for reason, cells in by_reason.items()]
    return (["skipped:"] + out) if out else []


def replay_lines(rep):
    if not rep:
        return []
    head = f"differential replay ({rep['a']} vs {rep['b']}): "
    if rep["status"] == "SKIP":
        return [head + "SKIP: " + rep["reason"]]
    out = [head + rep["summary"]]
    for r in rep["recordings"]:
        if r["result"] == "SKIP":
            out.append(f"  SKIP {r['name']}: {r['reason']}")
        elif r["result"] == "DIFFERENT":
            out += recording_lines(r)
    unexplained = rep["counts"].get("unexplained", 0)
    if unexplained:
        out.append(f"!!! {unexplained} UNEXPLAINED difference(s) between {rep['a']} and "
                   f"{rep['b']}: read them above !!!")
    return out


def recording_lines(r):
    """A recording's differences, each reason (`why`) printed once."""
    out = [f"  DIFFERENT {r['name']}"]
    whys = []
    for d in r["differences"]:
        loud = "!!! UNEXPLAINED " if d["class"] == "unexplained" else ""
        label = d["row"] if d["class"] == "profile" else d["class"]
        text = d["text"] if len(d["text"]) <= 220 else d["text"][:220] + "..."
        out.append(f"    {loud}[{label}] {d['where']}: {text}")
        if d.get("why") and d["why"] not in whys:
            whys.append(d["why"])
    return out + [f"    why: {w}" for w in whys]


# --- JSON ---------------------------------------------------------------------------------

def write_json(doc, path):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


# --- HTML ---------------------------------------------------------------------------------

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #bbb;padding:.3em .6em;vertical-align:top;text-align:left}
th{background:#eee}
.PASS{background:#c8efc8}.FAIL{background:#f5b5b5}.SKIP{background:#e4e4e4}
.SAME{background:#c8efc8}.DIFFERENT{background:#fbe7a6}
.l-PASS{color:#176b17;font-weight:bold}.l-FAIL{color:#b00;font-weight:bold}
.l-SKIP{color:#777}
.unexplained{background:#f5b5b5;font-weight:bold}
.profile{background:#dfe9f7}.robustness{background:#fbe7a6}
code,pre{font:12px/1.3 ui-monospace,monospace;white-space:pre-wrap}
a.cell{color:inherit;text-decoration:none;display:block}
.small{font-size:12px;color:#555}
"""


def esc(text):
    return html.escape(str(text), quote=True)


def cell_class(cell):
    """Red with a failure, green with a pass (skips do not count against it), else grey."""
    if cell["failed"]:
        return "FAIL"
    return "PASS" if cell["passed"] else "SKIP"


def anchor(cell):
    return f"cell-{cell['client']}--{cell['server']}"


def html_cell(cell):
    spans = "".join(f'<span class="l-{r["result"]}" title="{esc(r["scenario"])}: '
                    f'{esc(r["result"])}">{esc(r["letter"])}</span>' for r in cell["results"])
    return (f'<td class="{cell_class(cell)}"><a class="cell" href="#{anchor(cell)}">'
            f'{cell["passed"]}/{cell["total"]} <code>{spans}</code></a></td>')


def link(path, text):
    return f'<a href="{esc(path)}">{esc(text)}</a>' if path else ""


def html_details(cell):
    rows = []
    for r in cell["results"]:
        files = [link(r.get("transcript"), "transcript")] + \
            [link(p, p.rsplit("/", 1)[-1]) for p in r.get("logs", [])]
        rows.append(f'<tr class="{r["result"]}"><td>{esc(r["letter"])}</td>'
                    f'<td>{esc(r["scenario"])}</td><td>{esc(r["result"])}</td>'
                    f'<td>{r["duration"]:.2f}s</td><td><code>{esc(r["reason"])}</code></td>'
                    f'<td class="small">{" ".join(f for f in files if f)}</td></tr>')
    return (f'<h3 id="{anchor(cell)}">{esc(cell["client"])} (client) → {esc(cell["server"])} '
            f'(server): {cell["passed"]}/{cell["total"]}</h3>\n<table><tr><th></th>'
            f'<th>scenario</th><th>result</th><th>time</th><th>reason</th><th>files</th></tr>'
            + "".join(rows) + "</table>")


def html_matrix(doc):
    if not doc["cells"]:
        return "<p>The matrix was not run.</p>"
    head = "".join(f"<th>{esc(s)}</th>" for s in doc["servers"])
    body = "".join(f"<tr><th>{esc(c)}</th>"
                   + "".join(html_cell(find_cell(doc, c, s)) for s in doc["servers"]) + "</tr>"
                   for c in doc["clients"])
    legend = "".join(f"<tr><td><code>{esc(s['letter'])}</code></td><td>{esc(s['id'])}</td>"
                     f"<td>{esc(s['title'])}</td></tr>" for s in doc["scenarios"])
    return (f'<table><tr><th>client ↓ server →</th>{head}</tr>{body}</table>'
            f'<table><tr><th></th><th>scenario</th><th>what</th></tr>{legend}</table>')


def html_replay(rep):
    if not rep:
        return ""
    out = [f"<h2>Differential replay: {esc(rep['a'])} vs {esc(rep['b'])}</h2>"]
    if rep["status"] == "SKIP":
        return "".join(out) + f"<p>SKIP: {esc(rep['reason'])}</p>"
    out.append(f"<p>{esc(rep['summary'])}</p><table><tr><th>recording</th><th>result</th>"
               f"<th>differences</th><th>files</th></tr>")
    for r in rep["recordings"]:
        diffs = "".join(f'<div class="{esc(d["class"])}">[{esc(d.get("row") or d["class"])}] '
                        f'{esc(d["where"])}: <code>{esc(d["text"])}</code>'
                        + (f'<br><span class="small">{esc(d["why"])}</span>' if d.get("why")
                           else "") + "</div>" for d in r.get("differences", []))
        files = " ".join(link(p, p.rsplit("/", 1)[-1]) for p in r.get("files", []))
        out.append(f'<tr class="{esc(r["result"])}"><td>{esc(r["name"])}</td>'
                   f'<td>{esc(r["result"])}</td><td>{diffs or esc(r.get("reason", ""))}</td>'
                   f'<td class="small">{files}</td></tr>')
    return "".join(out) + "</table>"


def html_caps(caps):
    """What the probe found, the server's answer in each tooltip."""
    if "error" in caps:
        return f'<span class="l-FAIL">{esc(caps["error"])}</span>'
    return ", ".join(f'<span class="l-{"PASS" if caps[k] else "SKIP"}" '
                     f'title="{esc(caps.get(k + "_probe", ""))}">{esc(k)} '
                     f'{"✓" if caps[k] else "✕"}</span>'
                     for k in ("registry", "supervision", "ctx_call") if k in caps)


def write_html(doc, path):
    impls = "".join(f"<tr><td>{esc(i['name'])}</td><td>{esc(i['driver'])}</td>"
                    f"<td><code>{esc(i['server'] or '')}</code></td>"
                    f"<td>{'yes' if i['available'] else 'no: ' + esc(i['reason'])}</td>"
                    f"<td>{html_caps(i.get('caps', {}))}</td></tr>"
                    for i in doc["implementations"])
    page = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>scwire interop matrix"
            f"</title><style>{CSS}</style></head><body><h1>scwire interop matrix</h1>"
            f"<p>codec {esc(doc['codec'])}; started {esc(doc['started'])}; "
            f"{doc['duration']:.1f} s; exit status {doc['exit_status']}</p>"
            + html_matrix(doc)
            + "<h2>Implementations</h2><table><tr><th>name</th><th>client driver</th>"
              "<th>server command</th><th>available</th><th>probed</th></tr>" + impls
            + "</table>" + html_replay(doc.get("differential_replay"))
            + "<h2>Cells</h2>" + "".join(html_details(c) for c in doc["cells"])
            + "</body></html>\n")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(page)
