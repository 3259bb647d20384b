"""GET /v1/changes: the 今日变更 strip, from the store of record's revisions (kb/changes.py)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.deps import ServiceDep, SettingsDep
from kb.changes import recent_changes
from kb.lifecycle import beijing_today

router = APIRouter()


class ChangeItem(BaseModel):
    id: str
    library: str
    title: str
    time: str
    kind: str
    change: str
    by: str
    status: str
    doc_no: str
    successor: str | None


class ChangesResponse(BaseModel):
    kb: str
    days: int
    today: str
    count: int
    more: int
    changes: list[ChangeItem]


@router.get("/v1/changes", response_model=ChangesResponse)
def changes(request: Request, settings: SettingsDep, service: ServiceDep, kb: str = "minzheng",
            days: int | None = Query(default=None, ge=1, le=365), limit: int = Query(default=20, ge=1, le=500)) -> dict:
    """``count`` is every change in the window, ``changes`` the newest ``limit`` of them and ``more`` the
    rest, so a first ingest (every record 新增) does not flood the page."""
    service.index(kb)  # an unknown kb gets the same 404 as every other console route
    store = request.app.state.store
    days = days or settings.changes_days
    today = beijing_today(settings.today)
    items = recent_changes(store, kb, dt.datetime.now(dt.UTC), today, days)
    shown = [c.to_json() for c in items[:limit]]
    return {"kb": kb, "days": days, "today": today.isoformat(), "count": len(items), "more": len(items) - len(shown),
            "changes": shown}
