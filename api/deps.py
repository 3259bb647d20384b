"""FastAPI dependencies: the services built once in the lifespan, injected per request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kb.service import KnowledgeService
from kb.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_service(request: Request) -> KnowledgeService:
    return request.app.state.service


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[KnowledgeService, Depends(get_service)]


def get_classifier(request: Request):  # -> kb.classify.classifier.TicketClassifier
    """The ticket classifier, loaded at start-up; a clear 503 until ``kb train-classifier`` has run."""
    classifier = getattr(request.app.state, "classifier", None)
    if classifier is None:
        from kb.errors import IndexNotReady

        raise IndexNotReady(getattr(request.app.state, "classifier_error", "工单分类模型尚未加载"))
    return classifier


ClassifierDep = Annotated[object, Depends(get_classifier)]


def get_composer(request: Request):  # -> kb.reply.service.ReplyService
    return request.app.state.composer


ComposerDep = Annotated[object, Depends(get_composer)]
