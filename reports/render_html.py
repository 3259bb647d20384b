"""report.html: one self-contained page (charts inlined) for a browser or the web UI."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from reports.tables import summary_lines, tables

_CSS = """body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{text-align:center}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
td,th{border:1px solid #999;padding:3px 6px;vertical-align:top}th{background:#eef2f7}img{max-width:100%}
.bad{color:#c0392b;font-weight:bold}"""


def render_html(report: dict, charts: dict[str, bytes], path: Path) -> None:
    e = html.escape
    parts = [f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{e(report['title'])}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(report['title'])}</h1>",
             f"<p>统计周期：{e(report['period']['start'])} 至 {e(report['period']['end'])}（北京时间）；"
             f"数据来源：{e(report['source']['file'])}</p><h2>一、总体情况</h2>"]
    parts += [f"<p>{e(line)}</p>" for line in summary_lines(report)]

    def img(key: str) -> str:
        return f"<img alt='{key}' src='data:image/png;base64,{base64.b64encode(charts[key]).decode()}'>" if key in charts else ""

    parts.append(img("daily"))
    parts.append("<h2>二、统计表</h2>")
    for t in tables(report):
        parts.append(f"<h3 id='{t.key}'>{e(t.title)}</h3>{img(t.key)}")
        if not t.rows:
            parts.append("<p>本期无。</p>")
            continue
        head = "".join(f"<th>{e(str(h))}</th>" for h in t.header)
        body = "".join("<tr>" + "".join(f"<td{' class=bad' if v == '未达标' else ''}>{e('' if v is None else str(v))}</td>"
                                        for v in row) + "</tr>" for row in t.rows)
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
    parts.append("</body></html>")
    path.write_text("".join(parts), encoding="utf-8")
