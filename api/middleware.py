"""ASGI middleware: a body size guard that holds for chunked bodies, and a masked access log.

The guard counts the bytes actually received, not the ``Content-Length`` the
client claims, so a chunked upload without a length cannot exhaust memory. The
access log writes one line per request with the path only: query strings may
carry a caller's phone number and are never logged.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

from kb.privacy import mask

access_log = logging.getLogger("kb.access")

Scope = dict[str, Any]


def _size(limit: int) -> str:
    return f"{limit / 1048576:.1f} MB" if limit >= 1048576 else f"{limit // 1024} KB"


def _too_large(limit: int) -> bytes:
    return json.dumps({"detail": f"请求体过大，上限为 {_size(limit)}", "error": "PayloadTooLarge"},
                      ensure_ascii=False).encode()


class BodyTooLarge(StarletteHTTPException):
    """Raised from the counting ``receive`` once a body passes its limit; FastAPI re-raises HTTP exceptions
    from body parsing, and api/errors.py renders this one as the same 413 the guard sends itself."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, json.loads(_too_large(limit))["detail"])
        self.limit = limit


class BodyLimitMiddleware:
    """413 for any request body over ``limit`` bytes, however it is framed."""

    def __init__(self, app, limit: int, report_limit: int | None = None) -> None:
        self.app = app
        self.default_limit = limit
        self.report_limit = report_limit or limit

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Ticket exports for reports are whole months of rows: they have their own, larger limit.
        limit = self.report_limit if str(scope.get("path", "")).startswith("/v1/reports") else self.default_limit
        await self._guarded(scope, receive, send, limit)

    async def _guarded(self, scope: Scope, receive, send, limit: int) -> None:
        """Stream the body through, counting: a 100 MiB upload is never held in memory here, and the
        request fails with 413 as soon as the count passes the limit (Content-Length or chunked)."""
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await self._refuse(send, limit)
            return
        received = 0
        started = False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_tracked(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, send_tracked)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send, limit: int) -> None:
        body = _too_large(limit)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class AccessLogMiddleware:
    """``METHOD /path STATUS 12.3 ms`` for every request; the query string is left out on purpose."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_logged(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            path = mask(scope.get("path", ""))[:200]
            access_log.info("%s %s %d %.1f ms", scope.get("method", "-"), path, status["code"],
                            (time.perf_counter() - started) * 1000)
