"""The reviewer's queue: GET /v1/review/queue and POST /v1/review/{item_id} (reviewer role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import require
from api.routes.records import _check_kb
from api.schemas_review import QueueResponse, VerdictBody, VerdictResponse
from kb.keys import Principal
from kb.review import Correction, decide, review_queue

router = APIRouter(prefix="/v1/review", tags=["review"])
Reviewer = Annotated[Principal, Depends(require("reviewer"))]


@router.get("/queue", response_model=QueueResponse)
def queue(request: Request, _: Reviewer, kb: Annotated[str | None, Query(max_length=64)] = None,
          source: Annotated[str, Query(max_length=20)] = "feedback") -> dict:
    if kb:
        _check_kb(request, kb)
    settings = request.app.state.settings
    items = review_queue(request.app.state.interactions, kb, source, settings.review_sample_rate,
                         settings.review_queue_size)
    return {"source": source, "kb": kb, "sample_rate": settings.review_sample_rate, "items": items}


@router.post("/{item_id}", response_model=VerdictResponse)
async def verdict(request: Request, item_id: str, body: VerdictBody, who: Reviewer) -> dict:
    correction = None
    if body.correction is not None:
        c = body.correction
        correction = Correction(c.library, c.record, c.record_id or None)
    return await run_in_threadpool(decide, request.app.state.interactions, request.app.state.drafts, item_id, who.name,
                                   body.verdict, body.note or "", correction)
