"""POST /v1/reply: a suggested reply an agent can read aloud, with its sources."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import ComposerDep
from api.recording import index_version, remember
from api.schemas import ERRORS, ReplyBody, ReplyResponse
from kb.interactions import Interaction

router = APIRouter()


@router.post("/v1/reply", response_model=ReplyResponse, responses=ERRORS)
async def reply(body: ReplyBody, composer: ComposerDep, request: Request, background: BackgroundTasks) -> dict:
    result = await run_in_threadpool(composer.reply, body.question, body.kb, body.district, body.street)
    remember(request, background, [reply_interaction(body.kb, body.question, result)], index_version(request, body.kb))
    return result.to_json()


def reply_interaction(kb: str, question: str, result) -> Interaction:
    """What a reviewer needs of a reply: the text read out, its basis, whether it escalated, how sure it was."""
    ids = [b["id"] for b in result.basis]
    shown = {"reply": result.reply, "ids": ids, "escalate": result.escalate,
             "escalate_reason": result.escalate_reason, "confidence": result.confidence}
    return Interaction(kb, "reply", question, shown, escalated=bool(result.escalate))
