"""POST /v1/reports (a ticket export in, report material out) and GET of the generated files.

The upload is streamed to disk and counted, so a chunked body without Content-Length
is held to the same limit as one that declares its size. Files live under
KB_DATA_DIR/reports/<report_id>/ and are served only by their fixed names.
"""

from __future__ import annotations

import re
import secrets
import shutil
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.deps import SettingsDep
from api.downloads import checked, reports_dir, sweep
from kb.errors import InvalidQuery, NotFound, PayloadTooLarge
from kb.settings import Settings

router = APIRouter()
_REPORT_ID = re.compile(r"^[0-9]{14}-[0-9a-f]{8}$")
_MEDIA = {"report.json": "application/json", "report.html": "text/html; charset=utf-8",
          "report.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          "report.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_CHUNK = 1024 * 1024


class ReportPeriod(BaseModel):
    kind: str
    name: str
    label: str
    start: str
    end: str
    title: str


class ReportResponse(BaseModel):
    report_id: str
    kb: str
    period: ReportPeriod
    total: int
    excluded_rows: int
    kpi: dict[str, float | None]
    kpi_flags: list[dict[str, Any]]
    files: dict[str, str]
    report: dict[str, Any]


async def _save_upload(upload: UploadFile, target: Path, limit: int) -> None:
    size = 0
    with open(target, "wb") as fh:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                from reports.build import size_text

                raise PayloadTooLarge(f"工单导出文件过大（超过 {size_text(limit)} 上限）")
            fh.write(chunk)


def _build(settings: Settings, kb: str, path: Path, req, classifier, service, out: Path) -> dict:
    from reports.build import ReportBuilder, write_report

    builder = ReportBuilder(settings, kb, classifier, service)
    report = builder.build(builder.parse(path), req, path.name)
    write_report(report, out)
    return report


@router.post("/v1/reports", response_model=ReportResponse)
async def create_report(
    request: Request,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="工单导出文件（CSV 或 XLSX）")],
    kb: Annotated[str, Form()] = "minzheng",
    period: Annotated[str, Form(description="day|week|month|quarter|half|year|special")] = "month",
    date: Annotated[str | None, Form(description="周期内任一日期 YYYY-MM-DD")] = None,
    start: Annotated[str | None, Form(alias="from")] = None,
    end: Annotated[str | None, Form(alias="to")] = None,
    title: Annotated[str, Form()] = "",
) -> ReportResponse:
    from reports.build import PeriodRequest
    from reports.periods import parse_date

    name = Path(file.filename or "upload.csv").name
    if Path(name).suffix.lower() not in (".csv", ".xlsx"):
        raise InvalidQuery(f"不支持的文件类型“{Path(name).suffix}”，请上传 CSV 或 XLSX")
    req = PeriodRequest(period, parse_date(date, "date") if date else None, parse_date(start, "from") if start else None,
                        parse_date(end, "to") if end else None, title)
    report_id = f"{datetime.now():%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
    sweep(settings)  # every new report first removes the expired ones
    out = reports_dir(settings) / report_id
    upload_dir = out / "upload"
    upload_dir.mkdir(parents=True)
    source = upload_dir / name
    try:
        await _save_upload(file, source, settings.report_max_upload_bytes)
        # Whatever has loaded is used; a report is still produced without them (see optional_collaborators).
        ready = getattr(request.app.state, "readiness", None)
        classifier = getattr(ready, "classifier", None)
        service = getattr(ready, "service", None)
        report = await run_in_threadpool(_build, settings, kb, source, req, classifier, service, out)
    except Exception:
        shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(upload_dir, ignore_errors=True)  # the raw export holds callers' numbers: do not keep it
    files = {f: str(request.url_for("get_report_file", report_id=report_id, filename=f)) for f in _MEDIA}
    return ReportResponse(report_id=report_id, kb=kb, period=ReportPeriod(**report["period"]), total=report["total"],
                          excluded_rows=report["excluded_rows"], kpi=report["kpi"], kpi_flags=report["kpi_flags"],
                          files=files, report=report)


@router.get("/v1/reports/{report_id}/{filename}", name="get_report_file")
async def get_report_file(report_id: str, filename: str, settings: SettingsDep) -> FileResponse:
    if not _REPORT_ID.match(report_id) or filename not in _MEDIA:
        raise NotFound(f"报告文件不存在：{report_id}/{filename}（可下载：{'、'.join(_MEDIA)}）")
    folder = reports_dir(settings) / report_id
    path = checked(folder / filename, folder, settings, f"报告文件不存在或已过期：{report_id}/{filename}，请重新生成")
    return FileResponse(path, media_type=_MEDIA[filename], filename=filename)
