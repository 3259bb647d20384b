"""POST /v1/feedback: 有用 / 没用 / 有误 on a reply or a result, one click from the console."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import ServiceDep
from kb.interactions import RATINGS, TARGETS

router = APIRouter()


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb: str = "minzheng"
    target: str
    ids: list[str] = Field(default_factory=list, max_length=50)
    rating: str
    note: str | None = Field(default=None, max_length=1000)
    question: str
    kb_version: str = Field(default="", max_length=128)

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        if v not in TARGETS:
            raise ValueError("评价对象应为 reply（建议答复）或 result（检索结果）")
        return v

    @field_validator("rating")
    @classmethod
    def _rating(cls, v: str) -> str:
        if v not in RATINGS:
            raise ValueError("评价应为 useful（有用）、useless（没用）或 wrong（有误）")
        return v

    @field_validator("question")
    @classmethod
    def _question(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("问题不能为空")
        if len(v) > 2000:
            raise ValueError(f"问题过长（{len(v)} 字），上限为 2000 字")
        return v


class FeedbackResponse(BaseModel):
    id: int
    stored: bool


@router.post("/v1/feedback", response_model=FeedbackResponse)
async def feedback(body: FeedbackBody, service: ServiceDep, request: Request) -> dict:
    service.contacts(body.kb)  # an unknown kb is refused with the usual 404
    store = request.app.state.interactions
    row_id = await run_in_threadpool(store.add_feedback, body.kb, body.target, body.ids, body.rating, body.question,
                                     body.kb_version, body.note or "")
    return {"id": row_id, "stored": True}
