"""Drafts awaiting a knowledge manager: list (manager, reviewer), revise (manager; a reviewer their own),
approve and reject (manager)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import Manager, require
from api.routes.records import _check_kb
from api.schemas_review import ApproveResponse, DraftItem, DraftsResponse, RejectBody, ReviseBody
from kb.drafts import Draft, DraftDesk
from kb.keys import Principal

router = APIRouter(prefix="/v1/kbs/{kb}/drafts", tags=["drafts"])
ManagerOrReviewer = Annotated[Principal, Depends(require("manager", "reviewer"))]


def draft_json(desk: DraftDesk, draft: Draft) -> dict[str, Any]:
    return {**draft.to_json(), **desk.compare(draft)}


@router.get("", response_model=DraftsResponse)
def list_drafts(request: Request, kb: str, _: ManagerOrReviewer,
                status: Annotated[str | None, Query(max_length=16)] = "pending") -> dict:
    _check_kb(request, kb)
    desk: DraftDesk = request.app.state.drafts
    return {"kb": kb, "drafts": [draft_json(desk, d) for d in desk.list(kb, status or None)]}


@router.put("/{draft_id}", response_model=DraftItem)
async def revise(request: Request, kb: str, draft_id: int, body: ReviseBody, who: ManagerOrReviewer) -> dict:
    """The pending draft with this content instead (the records' validator: 422 with field errors)."""
    _check_kb(request, kb)
    desk: DraftDesk = request.app.state.drafts
    draft = await run_in_threadpool(desk.revise, kb, draft_id, body.record, who.name, body.note, body.edits,
                                    who.role == "reviewer")
    return draft_json(desk, draft)


@router.post("/{draft_id}/approve", response_model=ApproveResponse)
async def approve(request: Request, kb: str, draft_id: int, who: Manager) -> dict:
    _check_kb(request, kb)
    desk: DraftDesk = request.app.state.drafts
    draft, result = await run_in_threadpool(desk.approve, kb, draft_id, who.name)
    return {"draft": draft_json(desk, draft), "revision": result.state.revision, "indexed": result.indexed,
            "index_version": result.index_version, "index_error": result.index_error}


@router.post("/{draft_id}/reject", response_model=DraftItem)
async def reject(request: Request, kb: str, draft_id: int, body: RejectBody, who: Manager) -> dict:
    _check_kb(request, kb)
    desk: DraftDesk = request.app.state.drafts
    draft = await run_in_threadpool(desk.reject, kb, draft_id, who.name, body.reason)
    return draft_json(desk, draft)
