"""The reviewer's evaluation page (/review/eval) and the API under it (/v1/eval/…).

Reviewers (and admins) start runs; managers may read them. Runs are background jobs
(api/evaljobs.py); their rows, figures and per-query outcomes are in the store of record
(kb/evalruns.py); the figures each publish recorded come from the audit trail.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.auth import Principal, require
from api.deps import SettingsDep
from api.evaljobs import EvalJobs
from api.routes.pages import templates
from api.schemas_eval import Comparison, History, RunBody, RunDetail, RunList, RunStarted, Suite
from kb.errors import InvalidQuery, UnknownKB
from kb.evalruns import SUITES, EvalRunStore, compare, publish_history
from kb.settings import Settings

router = APIRouter(tags=["evaluation"])
pages = APIRouter(include_in_schema=False)

Reviewer = Annotated[Principal, Depends(require("reviewer"))]
Reader = Annotated[Principal, Depends(require("reviewer", "manager"))]


def get_runs(request: Request) -> EvalRunStore:
    return request.app.state.eval_runs


def get_jobs(request: Request) -> EvalJobs:
    return request.app.state.eval_jobs


RunsDep = Annotated[EvalRunStore, Depends(get_runs)]
JobsDep = Annotated[EvalJobs, Depends(get_jobs)]


def _known(settings: Settings, kb: str) -> str:
    if kb not in settings.kbs:
        raise UnknownKB(f"未知的知识库“{kb[:40]}”，可选：{'、'.join(settings.kbs)}")
    return kb


@router.post("/v1/eval/runs", status_code=202, response_model=RunStarted)
def start_run(body: RunBody, who: Reviewer, settings: SettingsDep, jobs: JobsDep) -> dict:
    """Start a run in the background; poll GET /v1/eval/runs/{run_id}. A second run on the same kb meanwhile → 409."""
    kb = _known(settings, body.kb)
    config = body.config.model_dump(exclude_none=True)
    run_id = jobs.start(kb, body.suite, body.split, config, who.name)
    return {"run_id": run_id, "status": "running"}


@router.get("/v1/eval/runs", response_model=RunList)
def list_runs(_: Reader, runs: RunsDep, settings: SettingsDep, kb: str | None = None, suite: Suite | None = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict:
    if kb is not None:
        _known(settings, kb)
    return {"runs": [r.summary() for r in runs.list(kb, suite, limit)]}


@router.get("/v1/eval/runs/{run_id}", response_model=RunDetail)
def get_run(run_id: str, _: Reader, runs: RunsDep, jobs: JobsDep) -> dict:
    run = runs.get(run_id)
    progress = jobs.progress(run_id) if run.status == "running" else None
    return {**run.summary(), "progress": progress, "items": run.items}


@router.get("/v1/eval/compare", response_model=Comparison)
def compare_runs(a: str, b: str, _: Reader, runs: RunsDep) -> dict:
    """Figures side by side and the queries whose outcome differs; both runs finished, same suite and split."""
    ra, rb = runs.get(a), runs.get(b)
    for name, run in (("a", ra), ("b", rb)):
        if run.status != "done":
            raise InvalidQuery(f"{name}：评测 {run.id} 尚未完成（{run.summary()['status_name']}），无法对比")
    if (ra.suite, ra.split) != (rb.suite, rb.split):
        raise InvalidQuery(f"只能对比同一套件与划分的两次评测：a 为 {ra.suite}/{ra.split}，b 为 {rb.suite}/{rb.split}")
    return compare(ra, rb)


@router.get("/v1/eval/history", response_model=History)
async def history(request: Request, _: Reader, runs: RunsDep, settings: SettingsDep, kb: str = "minzheng",
                  suite: Suite = "retrieval") -> dict:
    """Figures over time: the gold set each publish ran (audit trail) and the runs finished from this page."""
    _known(settings, kb)
    entries = await run_in_threadpool(request.app.state.store.audit_entries, kb, None, None, None, None, 100_000)
    done = [r for r in runs.list(kb, suite, 500) if r.status == "done"]
    points = [{"run_id": r.id, "time": r.summary()["finished"], "split": r.split, "config": r.config,
               "figures": r.figures or {}} for r in reversed(done)]
    return {"kb": kb, "suite": suite, "publishes": publish_history(entries), "runs": points}


@pages.get("/review/eval", response_class=HTMLResponse)
def evaluation_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "evaluation.html",
                                      {"kbs": request.app.state.settings.kbs, "suites": SUITES})


def install_evaluation(app) -> None:
    """Routes and the page; the run store and the job runner are built in the lifespan (start_evaluation)."""
    app.include_router(router)
    app.include_router(pages)


def start_evaluation(app) -> None:
    app.state.eval_runs = EvalRunStore(app.state.store.engine)
    app.state.eval_jobs = EvalJobs(app.state.settings, app.state.eval_runs)
