"""report.xlsx: every table on its own sheet, numbers as numbers so the office can re-sum them."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from reports.tables import summary_lines, tables

_BAD = str.maketrans({c: "_" for c in "[]:*?/\\"})


def render_xlsx(report: dict, path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "概览"
    ws.append([report["title"]])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"统计周期：{report['period']['start']} 至 {report['period']['end']}（北京时间）"])
    for line in summary_lines(report):
        ws.append([line])
    ws.append([])
    ws.append(["指标", "比率（未舍入）", "分子", "分母", "考核线"])
    for d in report["kpi_detail"].values():
        ws.append([d["name"], d["value"], d["numerator"], d["denominator"], d["threshold"]])
    ws.column_dimensions["A"].width = 100
    for t in tables(report):
        sheet = wb.create_sheet(t.title.translate(_BAD)[:31])
        sheet.append(t.header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in t.rows:
            sheet.append(row)
        for i, _ in enumerate(t.header):
            sheet.column_dimensions[chr(65 + i)].width = 18
    daily = wb.create_sheet("每日受理量")
    daily.append(["日期", "件数"])
    for day, n in report["daily"].items():
        daily.append([day, n])
    wb.save(str(path))
