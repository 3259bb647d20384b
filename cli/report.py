"""``kb report``: report material (日报 … 年报, 专报) from a ticket export."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kb.errors import KBError
from kb.settings import Settings

console = Console()
err = Console(stderr=True)


def report(
    input: Annotated[Path, typer.Option("--input", "-i", help="工单导出文件（CSV 或 XLSX）")],
    out: Annotated[Path, typer.Option("--out", "-o", help="输出目录")],
    kb: Annotated[str, typer.Option("--kb")] = "minzheng",
    period: Annotated[str, typer.Option("--period", help="day|week|month|quarter|half|year|special")] = "month",
    on: Annotated[str | None, typer.Option("--date", help="周期内任一日期 YYYY-MM-DD；省略时取文件中最后一个完整周期")] = None,
    start: Annotated[str | None, typer.Option("--from", help="专报开始日期")] = None,
    end: Annotated[str | None, typer.Option("--to", help="专报结束日期")] = None,
    title: Annotated[str, typer.Option("--title", help="专报标题")] = "",
) -> None:
    """生成报告材料：report.docx、report.xlsx、report.html、report.json。"""
    from reports.build import PeriodRequest, ReportBuilder, optional_collaborators, write_report
    from reports.periods import parse_date

    settings = Settings()
    started = time.perf_counter()
    try:
        req = PeriodRequest(period, parse_date(on, "--date") if on else None,
                            parse_date(start, "--from") if start else None, parse_date(end, "--to") if end else None, title)
        classifier, service, notes = optional_collaborators(settings, kb)
        for note in notes:
            err.print(f"[yellow]提示[/yellow] {note}")
        builder = ReportBuilder(settings, kb, classifier, service)
        result = builder.build(builder.parse(input), req, str(input))
        files = write_report(result, out)
    except KBError as exc:
        err.print(f"[red]错误：[/red]{exc.message}")
        raise typer.Exit(2) from None
    from reports.tables import pct

    rates = "；".join(f"{d['name']} {pct(d['value'])}" for d in result["kpi_detail"].values())
    console.print(f"{result['title']}：工单 {result['total']} 件，排除错误行 {result['excluded_rows']} 行；{rates}")
    for f in files:
        console.print(f"已写入 {f}")
    console.print(f"[dim]{time.perf_counter() - started:.1f} s[/dim]")
