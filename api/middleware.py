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

from kb.privacy import mask

access_log = logging.getLogger("kb.access")

Scope = dict[str, Any]


def _size(limit: int) -> str:
    return f"{limit / 1048576:.1f} MB" if limit >= 1048576 else f"{limit // 1024} KB"


def _too_large(limit: int) -> bytes:
    return json.dumps({"detail": f"请求体过大，上限为 {_size(limit)}", "error": "PayloadTooLarge"},
                      ensure_ascii=False).encode()


class _BodyTooLarge(Exception):
    pass


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
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await self._refuse(send, limit)
            return
        # Read the whole body first (bounded by the limit) and replay it: the app never sees a partial body.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def receive_again():
            if replay:
                return replay.pop()
            return await receive()

        await self.app(scope, receive_again, send)

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
