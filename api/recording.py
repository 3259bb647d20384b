"""Storing what the service answered, after the answer has gone out.

Routes hand a :class:`kb.interactions.Interaction` to :func:`remember`, which queues it
as a background task: Starlette runs it once the response is sent, so masking and the
database write add nothing to the agent's wait. A failed write is logged, never raised:
losing one stored question must not turn an answered call into an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import BackgroundTasks, Request

from kb.interactions import Interaction

log = logging.getLogger("kb.api.recording")


def remember(request: Request, background: BackgroundTasks, items: list[Interaction],
             version: Callable[[], str] | None = None) -> None:
    """Queue ``items`` for storage; ``version`` names the knowledge-base version, looked up after the response."""
    store = getattr(request.app.state, "interactions", None)
    if store is None or not items:
        return
    background.add_task(_store, store, items, version)


def _store(store, items: list[Interaction], version: Callable[[], str] | None) -> None:
    try:
        if version is not None:
            vid = version()
            for item in items:
                item.kb_version = item.kb_version or vid
        store.record(items)
    except Exception:  # noqa: BLE001 - storing is best effort; the answer was already given
        log.exception("storing %d answered interaction(s) failed", len(items))


def index_version(request: Request, kb: str) -> Callable[[], str]:
    """The live index version of ``kb`` at storage time ('' when the service is not loaded)."""

    def lookup() -> str:
        service = request.app.state.readiness.service
        if service is None:
            return ""
        try:
            return str(service.index(kb).vid)
        except Exception:  # noqa: BLE001 - an unknown kb was already refused by the route
            return ""

    return lookup
