"""The FastAPI application: services are built once in the lifespan and injected."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.auth import ANY_ROLE
from api.console import install_console, start_console, stop_console
from api.errors import install_error_handlers
from api.routes import audit, classify, contacts, documents, health, records, reply, reports, search, session
from kb.editing import RecordEditor
from kb.keys import KeyStore
from kb.storesync import StoreSync
from kb.storefactory import open_store
from kb.privacy import install_log_masking
from kb.reply.service import ReplyService
from kb.service import KnowledgeService
from kb.settings import Settings

log = logging.getLogger("kb.api")


def _load_classifier(settings: Settings, service: KnowledgeService):
    from kb.classify.classifier import TicketClassifier
    from kb.classify.training import model_dir
    from kb.errors import KBError

    try:
        return TicketClassifier.load(model_dir(settings), settings.corpus_dir / "duties", service.taxonomy), ""
    except KBError as exc:
        log.warning("ticket classifier not loaded: %s", exc.message)
        return None, exc.message


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    install_log_masking()
    install_log_masking(logging.getLogger("uvicorn.access"))
    install_log_masking(logging.getLogger("uvicorn.error"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = KnowledgeService(settings)
        errors = service.warm()
        for kb, message in errors.items():
            log.warning("knowledge base %s not loaded: %s", kb, message)
        app.state.settings = settings
        app.state.service = service
        app.state.classifier, app.state.classifier_error = _load_classifier(settings, service)
        app.state.composer = ReplyService(service, settings)
        app.state.store = open_store(settings)
        app.state.keys = KeyStore(app.state.store)
        app.state.editor = RecordEditor(settings, app.state.store, on_indexed=service.invalidate)
        sync = StoreSync(settings, app.state.store, app.state.editor.publisher)
        sync.start()
        start_console(app, settings)
        try:
            yield
        finally:
            stop_console(app)
            sync.stop()

    app = FastAPI(title="12345 接诉即办知识库", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        """Refuse oversized bodies before reading them: one agent's paste must not stall the service."""
        length = request.headers.get("content-length")
        limit = settings.report_max_upload_bytes if request.url.path.startswith("/v1/reports") else settings.max_upload_bytes
        if length and length.isdigit() and int(length) > limit:
            return JSONResponse(
                status_code=413,
                content={"detail": f"请求体过大（{int(length) / 1048576:.1f} MB），上限为 "
                                   f"{limit / 1048576:.1f} MB", "error": "PayloadTooLarge"},
            )
        return await call_next(request)

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
