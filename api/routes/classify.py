"""POST /v1/classify: 行业确认 or 剔除申报 for one ticket or a batch."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import ClassifierDep
from api.recording import remember
from api.schemas import ERRORS, ClassifyBatchResponse, ClassifyBody, Decision
from kb.interactions import Interaction

router = APIRouter()


@router.post("/v1/classify", response_model=Decision | ClassifyBatchResponse, responses=ERRORS)
async def classify(body: ClassifyBody, classifier: ClassifierDep, request: Request, background: BackgroundTasks) -> dict:
    if body.text is not None:
        decision = await run_in_threadpool(classifier.classify, body.text, body.kb)
        remember(request, background, [_interaction(body.kb, body.text, decision)])
        return decision.to_json()
    decisions = await run_in_threadpool(classifier.classify_many, body.texts or [], body.kb)
    remember(request, background, [_interaction(body.kb, t, d) for t, d in zip(body.texts or [], decisions)])
    return {"results": [d.to_json() for d in decisions]}


_SHOWN = ("industry", "in_scope", "topic", "subtopic", "department", "confidence", "needs_review", "filter_reason")


def _interaction(kb: str, text: str, decision) -> Interaction:
    """A classification as a reviewer reads it; the model version stands for the knowledge-base version."""
    data = decision.to_json()
    return Interaction(kb, "classification", text, {k: data.get(k) for k in _SHOWN}, kb_version=decision.model_version)
