"""POST /v1/classify/file: a day's tickets (CSV/XLSX) → JSON rows and a masked result XLSX to download."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from api.deps import ClassifierDep, SettingsDep
from api.downloads import checked, exports_dir, sweep
from kb.errors import InvalidQuery, NotFound

router = APIRouter()

_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _run(classifier, src: Path, kb: str, out: Path) -> dict:
    from openpyxl import load_workbook

    from kb.classify.batch import classify_file

    summary = classify_file(classifier, src, kb, out)
    src.unlink(missing_ok=True)  # the upload holds unmasked numbers; only the masked result is kept
    sheet = load_workbook(str(out), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    summary["rows"] = [dict(zip(header, ["" if v is None else v for v in r])) for r in rows[1:]]
    summary.pop("out", None)
    return summary


@router.post("/v1/classify/file")
async def classify_upload(request: Request, classifier: ClassifierDep, settings: SettingsDep,
                          file: Annotated[UploadFile, File()], kb: Annotated[str, Form()] = "minzheng") -> dict:
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InvalidQuery(f"不支持的文件类型“{suffix or '无扩展名'}”，请上传 CSV 或 XLSX")
    token = secrets.token_hex(16)
    sweep(settings)  # every new export first removes the expired ones
    folder = exports_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    src, out = folder / f"{token}-upload{suffix}", folder / f"{token}.xlsx"
    src.write_bytes(await file.read())
    try:
        summary = await run_in_threadpool(_run, classifier, src, kb, out)
    finally:
        src.unlink(missing_ok=True)
    summary["download"] = f"/v1/classify/file/{token}"

    return summary


@router.get("/v1/classify/file/{token}")
def classify_download(token: str, settings: SettingsDep) -> FileResponse:
    if not _TOKEN.match(token):
        raise NotFound("分类结果文件不存在，请重新上传")
    path = exports_dir(settings) / f"{token}.xlsx"
    checked(path, path, settings, "分类结果文件不存在或已过期，请重新上传")
    return FileResponse(path, filename="分类结果.xlsx",
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
