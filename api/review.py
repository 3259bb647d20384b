"""Wiring of the reviewer's workspace: its routers and pages, and at start-up the draft desk and the purge.

Kept out of api/console.py so that file gains two lines.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api.routes import drafts, gaps, review, review_pages

log = logging.getLogger("kb.api.review")


def install_review(app: FastAPI) -> None:
    """Each router carries its own role dependency (reviewer; manager, reviewer; manager)."""
    for module in (review, drafts, gaps):
        app.include_router(module.router)
    app.include_router(review_pages.router)


def start_review(app: FastAPI) -> None:
    """The draft desk over the store of record and its editor; interactions past retention are deleted."""
    from kb.drafts import DraftDesk

    app.state.drafts = DraftDesk(app.state.store, app.state.editor)
    days = app.state.settings.interaction_retention_days
    removed = app.state.interactions.purge(days)
    if any(removed.values()):
        log.info("removed interactions older than %d days: %s", days, removed)
