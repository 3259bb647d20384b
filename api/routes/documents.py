"""POST /v1/kbs/{kb}/documents: a manager uploads files in any format ``kb ingest`` reads.

The upload goes through the same loaders, validator and store as ``kb ingest``;
``dry_run=true`` shows what would be added, updated and rejected (file, row,
field, reason) and changes nothing, so a manager can check a spreadsheet first.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.auth import Manager
from api.deps import get_service
from ingest.pipeline import run_ingest
from kb.errors import IngestFailed, InvalidQuery, PayloadTooLarge, RecordInvalid

router = APIRouter(tags=["records"])
_FOLDERS = {"policy": "policies", "answer": "answers", "contact": "contacts", "problem": "problems"}
_SAFE = re.compile(r"[^\w.\-\u4e00-\u9fff（）()]+")


class RejectionItem(BaseModel):
    file: str
    location: str
    record_id: str
    field: str
    reason: str


class DocumentsResponse(BaseModel):
    kb: str
    dry_run: bool
    files: int
    added: int
    updated: int
    unchanged: int
    rejected: int
    conflicts: list[str]
    rejections: list[RejectionItem]
    warnings: list[str]
    version: str


def _safe_name(name: str) -> str:
    base = Path(name or "upload").name
    return _SAFE.sub("_", base)[:120] or "upload"


@router.post("/v1/kbs/{kb}/documents", response_model=DocumentsResponse)
async def upload_documents(request: Request, kb: str, who: Manager, files: Annotated[list[UploadFile], File()],
                           dry_run: bool = False,
                           library: Annotated[Literal["policy", "answer", "contact", "problem"] | None,
                                              Query(description="所有文件属于哪个库；省略时按列名、字段和格式判断")] = None) -> dict:
    settings = request.app.state.settings
    if not files:
        raise InvalidQuery("没有收到文件")
    if len(files) > 200:
        raise InvalidQuery(f"一次最多上传 200 个文件，收到 {len(files)} 个")
    tmp = Path(tempfile.mkdtemp(prefix="upload-", dir=settings.data_dir))
    try:
        folder = tmp / _FOLDERS[library] if library else tmp
        folder.mkdir(parents=True, exist_ok=True)
        total = 0
        for upload in files:
            target = folder / _safe_name(upload.filename or "")
            with open(target, "wb") as fh:
                while chunk := await upload.read(1 << 20):
                    total += len(chunk)
                    if total > settings.max_upload_bytes:
                        raise PayloadTooLarge(f"上传文件合计超过 {settings.max_upload_bytes / 1048576:.1f} MB 上限")
                    fh.write(chunk)
        prefix = str(tmp) + "/"

        def located(rejections) -> list[dict]:
            return [{"file": r.file.removeprefix(prefix).split("/")[-1], "location": r.location,
                     "record_id": r.record_id, "field": r.field, "reason": r.reason} for r in rejections]

        try:
            summary = await run_in_threadpool(run_ingest, settings, kb, [tmp], actor=who.name, dry_run=dry_run,
                                              source_name=f"上传:{who.name}", store=request.app.state.store)
        except IngestFailed as exc:
            failed = getattr(exc, "summary", None)
            errors = located(failed.rejections) if failed else []
            raise RecordInvalid(f"上传的文件中没有可导入的有效记录（{len(errors)} 处错误），未做任何修改", errors) from None
        if not dry_run:
            get_service(request).invalidate(kb)
        rejections = located(summary.rejections)
        return {"kb": kb, "dry_run": dry_run, "files": summary.files, "added": summary.added,
                "updated": summary.updated, "unchanged": summary.unchanged, "rejected": summary.rejected,
                "conflicts": summary.conflicts, "rejections": rejections,
                "warnings": [w.replace(prefix, "") for w in summary.warnings], "version": summary.version}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
