"""The FastAPI application: services are built once at start-up and injected.

``kb serve`` loads in a background thread (``background=True``) so /healthz
answers at once; tests and embedders build synchronously in the lifespan.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.auth import ANY_ROLE
from api.console import install_console, install_feedback_store, start_console, stop_console
from api.downloads import sweep
from api.errors import install_error_handlers
from api.middleware import AccessLogMiddleware, BodyLimitMiddleware
from api.readiness import Readiness
from api.routes import audit, classify, contacts, documents, health, records, reply, reports, search, session
from api.schemas import EVERY_ROUTE_ERRORS
from kb.editing import RecordEditor
from kb.keys import KeyStore
from kb.privacy import install_log_masking
from kb.publish import Publisher
from kb.settings import Settings
from kb.storefactory import open_store
from kb.storesync import StoreSync
from kb.vectorstore import claim_embedded_store, release_embedded_store

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
        sweep(settings)  # downloads that expired while the service was down
        claim_embedded_store(settings)  # this process owns the embedded vector store; CLI writers hand over to it
        app.state.store = open_store(settings)
        app.state.keys = KeyStore(app.state.store)
        def on_live(kb: str) -> None:
            if ready.service is not None:
                ready.service.invalidate(kb)

        publisher = Publisher(settings, app.state.store, background=True)
        publisher.on_live = on_live  # edits, store sync and compactions alike
        app.state.editor = RecordEditor(settings, app.state.store, publisher)
        install_feedback_store(app)
        ready.after.append(lambda: start_console(app, settings))
        sync = StoreSync(settings, app.state.store, app.state.editor.publisher)
        sync.start()
        if background:
            ready.start()
        else:
            ready.load()
        try:
            yield
        finally:
            sync.stop()
            stop_console(app)
            release_embedded_store(settings)

    app = FastAPI(title="12345 接诉即办知识库", version="0.1.0", lifespan=lifespan, responses=EVERY_ROUTE_ERRORS)
    install_error_handlers(app)
    # Outermost first: every request is logged, and oversized bodies (chunked or not) stop at 413.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes,
                       report_limit=settings.report_max_upload_bytes)
    app.add_middleware(AccessLogMiddleware)

    app.include_router(health.router)
    app.include_router(session.router)
    for router in (search.router, contacts.router, classify.router, reply.router, reports.router):
        app.include_router(router, dependencies=[ANY_ROLE])
    app.include_router(records.router)
    app.include_router(documents.router)
    app.include_router(audit.router)
    install_console(app)
    return app


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_binding(settings: Settings, host: str) -> None:
    """Refuse to serve an open (KB_AUTH=off) service on anything but loopback."""
    if settings.auth == "off" and host not in LOOPBACK and not host.startswith("127."):
        raise SystemExit(f"KB_AUTH=off 只允许在本机回环地址上使用，当前绑定 {host}；请开启认证（KB_AUTH=on）或改绑 127.0.0.1")
