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
