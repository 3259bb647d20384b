"""The JSON routes under the manager's pages that the records API did not have.

- ``GET /v1/record-forms``: each library's edit-form fields (kb/recordforms.py), so the page holds no schema;
- ``GET /v1/kbs/{kb}/records/{id}/revisions/{n}``: one past revision in full, for the side-by-side diff;
- ``GET /v1/kbs/{kb}/lifecycle?days=30``: policies coming into force or expiring soon, and who cites them;
- ``GET /v1/kbs/{kb}/audit``: the audit trail of one knowledge base, for managers (see api/auth.py for the rule).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from api.auth import Manager, require
from api.routes.records import _check_kb
from api.schemas_records import AuditResponse, RevisionResponse
from kb.lifecycle import beijing_today
from kb.recordforms import all_forms
from kb.upcoming import upcoming

router = APIRouter(tags=["manage"])
DATE = r"^\d{4}-\d{2}-\d{2}$"


class FormFieldItem(BaseModel):
    name: str
    label: str
    kind: str
    required: bool
    choices: list[str]


class LibraryForm(BaseModel):
    library: str
    name: str
    fields: list[FormFieldItem]


class FormsResponse(BaseModel):
    libraries: list[LibraryForm]


class CitationItem(BaseModel):
    id: str
    title: str
    articles: list[str]


class PolicyEventItem(BaseModel):
    id: str
    title: str
    doc_no: str
    event: str
    date: str
    days_left: int
    status_today: str
    cited_by: list[CitationItem]


class LifecycleResponse(BaseModel):
    kb: str
    today: str
    days: int
    events: list[PolicyEventItem]


@router.get("/v1/record-forms", response_model=FormsResponse)
def record_forms(_: Annotated[object, Depends(require("manager", "reviewer"))]) -> dict:
    return {"libraries": all_forms()}


@router.get("/v1/kbs/{kb}/records/{record_id}/revisions/{revision}", response_model=RevisionResponse)
def one_revision(request: Request, kb: str, record_id: str, revision: Annotated[int, Path(ge=1, le=10**9)], _: Manager) -> dict:
    _check_kb(request, kb)
    store = request.app.state.store
    store.get(kb, record_id)
    rev = store.revision(kb, record_id, revision)
    return {"kb": kb, "id": record_id, "revision": rev["revision"], "time": rev["time"], "author": rev["author"],
            "reason": rev["reason"], "action": rev["action"], "status": rev["status"], "record": rev["content"]}


@router.get("/v1/kbs/{kb}/lifecycle", response_model=LifecycleResponse)
def lifecycle(request: Request, kb: str, _: Manager, days: Annotated[int, Query(ge=1, le=366)] = 30) -> dict:
    _check_kb(request, kb)
    today = beijing_today(request.app.state.settings.today)
    events = upcoming(request.app.state.store, kb, today, days)
    return {"kb": kb, "today": today.isoformat(), "days": days, "events": [e.to_json() for e in events]}


@router.get("/v1/kbs/{kb}/audit", response_model=AuditResponse)
def kb_audit(request: Request, kb: str, _: Manager, actor: Annotated[str | None, Query(max_length=100)] = None,
             record_id: Annotated[str | None, Query(max_length=200)] = None,
             since: Annotated[str | None, Query(pattern=DATE)] = None,
             until: Annotated[str | None, Query(pattern=DATE)] = None,
             limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> dict:
    """Newest first, so the last ``limit`` entries are the ones a manager looks for."""
    _check_kb(request, kb)
    entries = request.app.state.store.audit_entries(kb, actor or None, since, until, record_id or None, limit,
                                                    newest_first=True)
    return {"entries": [e.to_json() for e in entries]}
