"""POST /v1/classify: 行业确认 or 剔除申报 for one ticket or a batch."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import ClassifierDep
from api.schemas import ERRORS, ClassifyBatchResponse, ClassifyBody, Decision

router = APIRouter()


@router.post("/v1/classify", response_model=Decision | ClassifyBatchResponse, responses=ERRORS)
async def classify(body: ClassifyBody, classifier: ClassifierDep) -> dict:
    if body.text is not None:
        decision = await run_in_threadpool(classifier.classify, body.text, body.kb)
        return decision.to_json()
    decisions = await run_in_threadpool(classifier.classify_many, body.texts or [], body.kb)
    return {"results": [d.to_json() for d in decisions]}
