"""Wiring of the agent console into the app: its routes, static files and services.

Kept out of api/app.py so that file gains two lines, not twenty.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.auth import ANY_ROLE
from api.review import install_review, start_review
from api.routes import assist, changes, classify_file, feedback, manage, manage_pages, pages, places
from api.routes.evaluation import install_evaluation, start_evaluation
from kb.settings import Settings


def install_console(app: FastAPI) -> None:
    """The pages are public (they ask for a login on the first 401); every API route they call needs a role."""
    for module in (places, changes, feedback, assist, classify_file):
        app.include_router(module.router, dependencies=[ANY_ROLE])
    app.include_router(manage.router)  # each route names its roles (manager; forms also reviewer)
    app.include_router(pages.router)
    app.include_router(manage_pages.router)
    install_review(app)
    install_evaluation(app)
    app.mount("/static", pages.static_files(), name="static")


def install_feedback_store(app: FastAPI) -> None:
    """Feedback is stored beside the records, on the store of record's engine; available before the index loads."""
    from kb.interactions import InteractionStore

    app.state.interactions = InteractionStore(app.state.store.engine)
    start_review(app)
    start_evaluation(app)


def start_console(app: FastAPI, settings: Settings) -> None:
    """Build the call assistant once the knowledge service and the composer have loaded."""
    from kb.assist import Assistant
    from kb.classify.duties import DutyBook
    from kb.classify.risk import RiskDetector

    risk = RiskDetector(DutyBook.load(settings.corpus_dir / "duties").risks)
    ready = app.state.readiness
    app.state.assistant = Assistant(ready.service, ready.composer, risk)
    _warm_replies(app, settings)


def _warm_replies(app: FastAPI, settings: Settings) -> None:
    """One reply per kb at start-up: the first replies otherwise pay seconds of lazy loading,
    on the first calls of the day."""
    for kb in settings.kbs:
        try:
            app.state.readiness.composer.reply("低保标准每月多少钱", kb)
        except Exception:  # noqa: BLE001 - a kb that is not built is reported by /healthz
            pass


def stop_console(app: FastAPI) -> None:
    """End the evaluation processes this service started; the feedback store shares the store of record's engine."""
    jobs = getattr(app.state, "eval_jobs", None)
    if jobs is not None:
        jobs.stop()
