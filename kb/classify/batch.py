"""A day's batch of tickets from CSV or XLSX to a result workbook.

The output carries masked ticket text only: a results file is passed around the
office and must not become a second copy of callers' numbers.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path

from kb.classify.classifier import MAX_BATCH, TicketClassifier
from kb.errors import InvalidQuery
from kb.privacy import mask

TEXT_COLUMNS = ("text", "工单内容", "诉求内容", "内容", "来电内容")
ID_COLUMNS = ("id", "工单编号", "编号")
# The caller's name, when the export has it, is used only to mask that name in the text; it is never written.
NAME_COLUMNS = ("来电人姓名", "来电人", "姓名", "联系人", "联系人姓名", "市民姓名")


def read_tickets(path: Path) -> list[tuple[str, str, str]]:
    """(ticket id, text, caller's name or "") triples; a file without a text column is refused by name."""
    if not path.exists():
        raise InvalidQuery(f"文件不存在：{path}")
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        from kb.safezip import check_file

        check_file(path)  # an XLSX is a zip: refuse a bomb before openpyxl unpacks it
        sheet = load_workbook(str(path), read_only=True, data_only=True).worksheets[0]
        rows = [["" if v is None else str(v) for v in r] for r in sheet.iter_rows(values_only=True)]
    elif path.suffix.lower() == ".csv":
        from kb.textio import UndecodableText, decode_bytes

        try:
            text, _ = decode_bytes(path.read_bytes(), str(path))
        except UndecodableText as exc:
            raise InvalidQuery(str(exc)) from None
        rows = list(csv.reader(text.splitlines()))
    else:
        raise InvalidQuery(f"不支持的文件类型“{path.suffix}”，请使用 CSV 或 XLSX")
    if not rows:
        raise InvalidQuery(f"{path} 为空")
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    text_col = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    if text_col is None:
        raise InvalidQuery(f"{path} 缺少工单内容列（可用列名：{'、'.join(TEXT_COLUMNS)}），实际表头：{','.join(header)}")
    id_col = next((header.index(c) for c in ID_COLUMNS if c in header), None)
    name_col = next((header.index(c) for c in NAME_COLUMNS if c in header), None)
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        text = row[text_col].strip() if text_col < len(row) else ""
        ticket_id = row[id_col].strip() if id_col is not None and id_col < len(row) else f"第{n}行"
        name = row[name_col].strip() if name_col is not None and name_col < len(row) else ""
        out.append((ticket_id, text, name))
    return out


def classify_file(clf: TicketClassifier, path: Path, kb: str, out: Path | None, console=None) -> dict:
    from rich.progress import Progress

    started = time.perf_counter()
    tickets = read_tickets(path)
    decisions = []
    errors: dict[int, str] = {}
    with Progress(console=console, transient=True, disable=console is None or not console.is_terminal) as bar:
        task = bar.add_task("分类中", total=len(tickets))
        for start in range(0, len(tickets), MAX_BATCH):
            part = tickets[start : start + MAX_BATCH]
            good = [(i, t) for i, (_, t, _) in enumerate(part, start=start) if t]
            for i, (_, t, _) in enumerate(part, start=start):
                if not t:
                    errors[i] = "工单内容为空"
            if good:
                for (i, _), d in zip(good, clf.classify_many([t for _, t in good], kb)):
                    decisions.append((i, d))
            bar.advance(task, len(part))
    by_index = dict(decisions)
    out = out or path.with_name(path.stem + "-分类结果.xlsx")
    header = ["工单编号", "工单内容（已脱敏）", "结论", "行业", "主题", "子主题", "转办部门", "置信度", "需复核",
              "风险等级", "风险信号", "判断理由", "剔除理由", "错误"]
    rows = []
    for i, (ticket_id, text, name) in enumerate(tickets):
        d = by_index.get(i)
        shown = mask(text, known_names=(name,))
        if d is None:
            rows.append([ticket_id, shown, "", "", "", "", "", "", "", "", "", "", "", errors.get(i, "")])
            continue
        rows.append([ticket_id, shown, "行业确认" if d.in_scope else "剔除申报", d.industry, d.topic or "",
                     d.subtopic or "", d.department or "", d.confidence, "是" if d.needs_review else "否",
                     d.risk["level"], "、".join(s["name"] for s in d.risk["signals"]), "\n".join(d.reasons),
                     d.filter_reason or "", ""])
    _write(out, header, rows)
    ds = [d for _, d in decisions]
    return {
        "total": len(tickets),
        "in_scope": sum(d.in_scope for d in ds),
        "filtered": sum(not d.in_scope for d in ds),
        "needs_review": sum(d.needs_review for d in ds),
        "risky": sum(d.risk["level"] != "none" for d in ds),
        "errors": len(errors),
        "by_department": dict(Counter(d.department for d in ds if not d.in_scope).most_common()),
        "seconds": time.perf_counter() - started,
        "out": str(out),
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text_cell(value: object) -> object:
    """A cell value that a spreadsheet will show as text: a leading =, +, -, @ would make it a formula
    (=HYPERLINK(...) in a ticket must not become a link in the results file), so a ' is put in front."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    rows = [[as_text_cell(v) for v in row] for row in rows]
    if path.suffix.lower() == ".csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        return
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "分类结果"
    ws.append(header)
    for row in rows:
        ws.append(row)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # stored as a string, never evaluated
    wb.save(str(path))
