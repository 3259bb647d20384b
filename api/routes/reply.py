"""POST /v1/reply: a suggested reply an agent can read aloud, with its sources."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import ComposerDep
from api.schemas import ERRORS, ReplyBody, ReplyResponse

router = APIRouter()


@router.post("/v1/reply", response_model=ReplyResponse, responses=ERRORS)
async def reply(body: ReplyBody, composer: ComposerDep) -> dict:
    result = await run_in_threadpool(composer.reply, body.question, body.kb, body.district, body.street)
    return result.to_json()
