"""POST /v1/reply: a suggested reply an agent can read aloud, with its sources."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from api.deps import ComposerDep

router = APIRouter()


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    kb: str = "minzheng"
    district: str | None = None
    street: str | None = None


@router.post("/v1/reply")
async def reply(body: ReplyBody, composer: ComposerDep) -> dict:
    result = await run_in_threadpool(composer.reply, body.question, body.kb, body.district, body.street)
    return result.to_json()
