"""The FastAPI application: services are built once at start-up and injected.

``kb serve`` loads in a background thread (``background=True``) so /healthz
answers at once; tests and embedders build synchronously in the lifespan.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.middleware import AccessLogMiddleware, BodyLimitMiddleware
from api.readiness import Readiness
from api.routes import classify, contacts, health, reply, search
from kb.privacy import install_log_masking
from kb.settings import Settings

log = logging.getLogger("kb.api")


def create_app(settings: Settings | None = None, background: bool = False) -> FastAPI:
    settings = settings or Settings()
    install_log_masking()
    install_log_masking(logging.getLogger("uvicorn.access"))
    install_log_masking(logging.getLogger("uvicorn.error"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ready = Readiness(settings)
        app.state.settings = settings
        app.state.readiness = ready
        if background:
            ready.start()
        else:
            ready.load()
        yield

    app = FastAPI(title="12345 接诉即办知识库", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    # Outermost first: every request is logged, and oversized bodies (chunked or not) stop at 413.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes)
    app.add_middleware(AccessLogMiddleware)

    app.include_router(search.router)
    app.include_router(contacts.router)
    app.include_router(health.router)
    app.include_router(classify.router)
    app.include_router(reply.router)
    return app
