"""FastAPI dependencies: the services built at start-up, injected per request.

Until a part has loaded, a request that needs it gets a 503 (IndexNotReady) at
once; nothing waits behind the start-up thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.readiness import NOT_READY, PART_NAMES, Readiness
from kb.errors import IndexNotReady
from kb.service import KnowledgeService
from kb.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_readiness(request: Request) -> Readiness:
    return request.app.state.readiness


def _unavailable(ready: Readiness, part: str) -> IndexNotReady:
    if ready.failed:
        return IndexNotReady(f"服务启动失败：{ready.failed}")
    return IndexNotReady(NOT_READY.format(part=part))


def get_service(request: Request) -> KnowledgeService:
    ready = get_readiness(request)
    if ready.service is None:
        waiting = [PART_NAMES[p] for p in ("tokenizer", "embedder") if ready.state_of(p) == "loading"]
        raise _unavailable(ready, "、".join(waiting) or "知识库")
    return ready.service


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[KnowledgeService, Depends(get_service)]
ReadinessDep = Annotated[Readiness, Depends(get_readiness)]


def get_classifier(request: Request):  # -> kb.classify.classifier.TicketClassifier
    """The ticket classifier; a clear 503 while loading or until ``kb train-classifier`` has run."""
    ready = get_readiness(request)
    if "classifier" in ready.loading:
        raise _unavailable(ready, "工单分类模型")
    if ready.classifier is None:
        raise IndexNotReady(ready.classifier_error or "工单分类模型尚未加载")
    return ready.classifier


ClassifierDep = Annotated[object, Depends(get_classifier)]


def get_composer(request: Request):  # -> kb.reply.service.ReplyService
    ready = get_readiness(request)
    if ready.composer is None:
        raise _unavailable(ready, "答复生成模块")
    return ready.composer


ComposerDep = Annotated[object, Depends(get_composer)]
