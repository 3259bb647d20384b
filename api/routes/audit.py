"""GET /v1/audit (admin): the append-only, hash-chained trail of every write, key change and login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

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
