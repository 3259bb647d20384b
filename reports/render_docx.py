"""report.docx: the document the office edits and sends, with charts and the shared tables."""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from reports.tables import summary_lines, tables

FONT = "Noto Sans CJK SC"
CHART_AFTER = {"kpi": "kpi", "by_type": "by_type", "by_district": "by_district", "by_subtopic": "by_subtopic"}
MAX_ROWS = 200


def _font(run, size: float | None = None) -> None:
    run.font.name = FONT
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    if size:
        run.font.size = Pt(size)


def _widths(header: list[str], rows: list[list[object]], total_cm: float = 16.0) -> list:
    """Column widths by content length (capped), so a column of ticket numbers does not squeeze into 1/n of the page."""
    lengths = [max([len(str(h)), 4] + [min(len(str(r[i])), 60) for r in rows if i < len(r)]) + 2 for i, h in enumerate(header)]
    return [Cm(total_cm * n / sum(lengths)) for n in lengths]


def render_docx(report: dict, charts: dict[str, bytes], path: Path) -> None:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    style.font.size = Pt(10.5)
    for name in ("Title", "Heading 1", "Heading 2"):
        doc.styles[name].element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    title = doc.add_heading(report["title"], level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(f"统计周期：{report['period']['start']} 至 {report['period']['end']}（北京时间）；"
                      f"数据来源：{report['source']['file']}；生成时间：{report['generated_at'][:16].replace('T', ' ')}")
    doc.add_heading("一、总体情况", level=1)
    for line in summary_lines(report):
        doc.add_paragraph(line)
    doc.add_picture(io.BytesIO(charts["daily"]), width=Cm(15))
    doc.add_heading("二、统计表", level=1)
    for t in tables(report):
        doc.add_heading(t.title, level=2)
        if t.key in charts:
            doc.add_picture(io.BytesIO(charts[t.key]), width=Cm(15))
        if not t.rows:
            doc.add_paragraph("本期无。")
            continue
        table = doc.add_table(rows=1, cols=len(t.header))
        table.style = "Table Grid"
        table.autofit = False
        widths = _widths(t.header, t.rows[:MAX_ROWS])
        for column, width in zip(table.columns, widths):
            column.width = width  # the grid is what LibreOffice reads; cell widths are what Word reads
        for cell, text, width in zip(table.rows[0].cells, t.header, widths):
            cell.width = width
            cell.text = ""
            run = cell.paragraphs[0].add_run(str(text))
            run.bold = True
            _font(run, 9)
        for row in t.rows[:MAX_ROWS]:
            cells = table.add_row().cells
            for cell, value, width in zip(cells, row, widths):
                cell.width = width
                cell.text = ""
                _font(cell.paragraphs[0].add_run("" if value is None else str(value)), 9)
        if len(t.rows) > MAX_ROWS:
            doc.add_paragraph(f"（共 {len(t.rows)} 行，此处列出前 {MAX_ROWS} 行，完整明细见 report.xlsx）")
    doc.save(str(path))
