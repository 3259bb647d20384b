"""Admin routes: the audit trail (append-only, hash-chained) and the handover export."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from api.auth import Admin
from api.schemas_records import AuditResponse

router = APIRouter(tags=["audit"])


@router.get("/v1/audit", response_model=AuditResponse)
def audit_trail(request: Request, _: Admin, kb: str | None = None, actor: str | None = None,
                record_id: str | None = None,
                since: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}")] = None,
                until: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}")] = None,
                limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> dict:
    entries = request.app.state.store.audit_entries(kb, actor, since, until, record_id, limit)
    return {"entries": [e.to_json() for e in entries]}


@router.get("/v1/kbs/{kb}/export", response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "导出文件（zip）"}})
async def export(request: Request, kb: str, who: Admin) -> FileResponse:
    from kb.exporting import export_kb

    settings = request.app.state.settings
    folder = Path(tempfile.mkdtemp(prefix="export-", dir=settings.data_dir))
    out = folder / f"{kb}-export.zip"
    await run_in_threadpool(export_kb, settings, request.app.state.store, kb, out, who.name)
    return FileResponse(out, media_type="application/zip", filename=out.name)
