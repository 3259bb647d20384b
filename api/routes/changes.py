"""GET /v1/changes: the 今日变更 strip (answers updated, policies taking effect)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import ServiceDep
from kb.changes import recent_changes

router = APIRouter()


class ChangeItem(BaseModel):
    id: str
    library: str
    title: str
    date: str
    change: str
    status: str
    doc_no: str
    successor: str | None


class ChangesResponse(BaseModel):
    kb: str
    days: int
    today: str
    count: int
    changes: list[ChangeItem]


@router.get("/v1/changes", response_model=ChangesResponse)
def changes(service: ServiceDep, kb: str = "minzheng", days: int = Query(default=30, ge=1, le=365)) -> dict:
    today = date.today()
    items = [c.to_json() for c in recent_changes(service.index(kb).chunks, today, days)]
    return {"kb": kb, "days": days, "today": today.isoformat(), "count": len(items), "changes": items}
