"""Knowledge managers' edits: records with revisions, history, restore and retire.

Every write names its reason and is audited with the caller's key name; an update
must say which revision it is based on (``If-Match``) so that two managers editing
one record cannot silently overwrite each other.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import Manager, require
from api.deps import get_service
from api.schemas_records import (
    CheckResponse,
    CreateBody,
    HistoryItem,
    HistoryResponse,
    RecordListResponse,
    RecordResponse,
    RestoreBody,
    UpdateBody,
)
from kb.editing import RecordEditor, WriteResult
from kb.errors import InvalidQuery, PreconditionRequired, UnknownKB
from kb.store import RecordState, RecordStore, field_diff

router = APIRouter(prefix="/v1/kbs/{kb}", tags=["records"])


def _store(request: Request) -> RecordStore:
    return request.app.state.store


def _editor(request: Request) -> RecordEditor:
    return request.app.state.editor


def _check_kb(request: Request, kb: str) -> None:
    if kb not in request.app.state.settings.kbs and kb not in request.app.state.store.kbs():
        raise UnknownKB(f"未知的知识库“{kb[:40]}”")


def _revision_of(if_match: str | None) -> int:
    if if_match is None:
        raise PreconditionRequired("修改记录必须在请求头 If-Match 中给出所基于的版本号（先 GET 记录取得 ETag）")
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidQuery(f"If-Match 应为版本号（如 3 或 \"3\"），收到“{if_match[:20]}”")
    return int(value)


def _body(state: RecordState, result: WriteResult | None = None) -> dict[str, Any]:
    body = {**state.summary(), "record": state.content}
    if result is not None:
        body["indexed"] = result.indexed
        body["index_version"] = result.index_version
        body["index_error"] = result.index_error
    return body


def _respond(response: Response, state: RecordState) -> None:
    response.headers["ETag"] = f'"{state.revision}"'


@router.get("/records", response_model=RecordListResponse)
def list_records(request: Request, kb: str, _: Manager, library: str | None = None,
                 q: Annotated[str | None, Query(max_length=200, description="编号或标题中包含")] = None,
                 status: str | None = None, updated_by: str | None = None,
                 topic: Annotated[str | None, Query(max_length=80, description="主题代码")] = None,
                 text: Annotated[str | None, Query(max_length=200, description="全文：记录任一字段中包含")] = None,
                 not_reviewed_days: Annotated[int | None, Query(ge=1, le=36500,
                                                                description="超过这么多天未更新（未复核）")] = None,
                 page: Annotated[int, Query(ge=1, le=100000)] = 1,
                 page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> dict:
    _check_kb(request, kb)
    before = None
    if not_reviewed_days is not None:
        before = (dt.datetime.now(dt.UTC) - dt.timedelta(days=not_reviewed_days)).strftime("%Y-%m-%dT%H:%M:%S")
    total, states = _store(request).list(kb, library, q, status, updated_by, page, page_size, topic=topic or None,
                                         text=(text or "").strip() or None, updated_before=before)
    return {"kb": kb, "total": total, "page": page, "page_size": page_size, "records": [s.summary() for s in states]}


@router.get("/records/{record_id}", response_model=RecordResponse)
def get_record(request: Request, response: Response, kb: str, record_id: str,
               _: Annotated[object, Depends(require("manager", "reviewer"))]) -> dict:
    _check_kb(request, kb)
    state = _store(request).get(kb, record_id)
    _respond(response, state)
    return _body(state)


@router.post("/records", response_model=RecordResponse, status_code=201)
async def create_record(request: Request, response: Response, kb: str, body: CreateBody, who: Manager) -> dict:
    _check_kb(request, kb)
    result = await run_in_threadpool(_editor(request).create, kb, body.library, body.record, who.name, body.reason)
    _respond(response, result.state)
    return _body(result.state, result)


@router.put("/records/{record_id}", response_model=RecordResponse)
async def update_record(request: Request, response: Response, kb: str, record_id: str, body: UpdateBody, who: Manager,
                        if_match: Annotated[str | None, Header()] = None) -> dict:
    _check_kb(request, kb)
    expected = _revision_of(if_match)
    result = await run_in_threadpool(_editor(request).update, kb, record_id, body.record, who.name, body.reason, expected)
    _respond(response, result.state)
    return _body(result.state, result)


@router.delete("/records/{record_id}", response_model=RecordResponse)
async def retire_record(request: Request, response: Response, kb: str, record_id: str, who: Manager,
                        reason: Annotated[str, Query(min_length=1, max_length=500)],
                        if_match: Annotated[str | None, Header()] = None) -> dict:
    _check_kb(request, kb)
    expected = _revision_of(if_match) if if_match is not None else None
    result = await run_in_threadpool(_editor(request).retire, kb, record_id, who.name, reason, expected)
    _respond(response, result.state)
    return _body(result.state, result)


@router.get("/records/{record_id}/history", response_model=HistoryResponse)
def history(request: Request, kb: str, record_id: str, _: Manager) -> dict:
    _check_kb(request, kb)
    revisions = _store(request).history(kb, record_id)
    items: list[HistoryItem] = []
    previous: dict[str, Any] = {}
    for rev in revisions:
        items.append(HistoryItem(revision=rev["revision"], time=rev["time"], author=rev["author"], reason=rev["reason"],
                                 action=rev["action"], status=rev["status"], diff=field_diff(previous, rev["content"])))
        previous = rev["content"]
    return {"kb": kb, "id": record_id, "revisions": items}


@router.post("/records/{record_id}/restore", response_model=RecordResponse)
async def restore(request: Request, response: Response, kb: str, record_id: str, body: RestoreBody, who: Manager,
                  if_match: Annotated[str | None, Header()] = None) -> dict:
    _check_kb(request, kb)
    expected = _revision_of(if_match) if if_match is not None else None
    result = await run_in_threadpool(_editor(request).restore, kb, record_id, body.revision, who.name, body.reason, expected)
    _respond(response, result.state)
    return _body(result.state, result)


@router.get("/check", response_model=CheckResponse)
def check(request: Request, kb: str, _: Manager) -> dict:
    from kb.checks import run_checks

    _check_kb(request, kb)
    settings = request.app.state.settings
    index = get_service(request).index(kb)
    return run_checks(kb, _store(request), index, settings.unreviewed_days, settings.today).to_json()
