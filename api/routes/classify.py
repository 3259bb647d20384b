"""POST /v1/classify: 行业确认 or 剔除申报 for one ticket or a batch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, model_validator

from api.deps import ClassifierDep

router = APIRouter()


class ClassifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    texts: list[str] | None = None
    kb: str = "minzheng"

    @model_validator(mode="after")
    def _one_of(self) -> ClassifyBody:
        if (self.text is None) == (self.texts is None):
            raise ValueError("请只提供 text（单条工单）或 texts（批量工单）其中之一")
        return self


@router.post("/v1/classify")
async def classify(body: ClassifyBody, classifier: ClassifierDep, request: Request) -> dict:
    if body.text is not None:
        decision = await run_in_threadpool(classifier.classify, body.text, body.kb)
        return decision.to_json()
    decisions = await run_in_threadpool(classifier.classify_many, body.texts or [], body.kb)
    return {"results": [d.to_json() for d in decisions]}
