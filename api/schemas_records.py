"""Wire formats of the knowledge-management API (records, history, audit, keys)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    library: Literal["answer", "contact", "problem", "policy"]
    record: dict[str, Any]
    reason: str = Field(default="", max_length=500)


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: dict[str, Any]
    reason: str = Field(default="", max_length=500)


class RestoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int = Field(ge=1)
    reason: str = Field(default="", max_length=500)


class RecordSummary(BaseModel):
    id: str
    library: str
    title: str
    status: str
    revision: int
    updated: str
    updated_by: str


class RecordResponse(RecordSummary):
    record: dict[str, Any]
    indexed: bool | None = None
    index_version: str | None = None
    index_error: str | None = None


class RecordListResponse(BaseModel):
    kb: str
    total: int
    page: int
    page_size: int
    records: list[RecordSummary]


class FieldChange(BaseModel):
    field: str
    old: Any = None
    new: Any = None


class RevisionMeta(BaseModel):
    revision: int
    time: str
    author: str
    reason: str
    action: str
    status: str


class HistoryItem(RevisionMeta):
    diff: list[FieldChange]


class RevisionResponse(RevisionMeta):
    """One past revision in full (the side-by-side diff of the manager's history)."""

    kb: str
    id: str
    record: dict[str, Any]


class HistoryResponse(BaseModel):
    kb: str
    id: str
    revisions: list[HistoryItem]


class AuditItem(BaseModel):
    seq: int
    time: str
    actor: str
    proposed_by: str | None = None
    action: str
    kb: str | None = None
    record_id: str | None = None
    revision: int | None = None
    reason: str
    details: dict[str, Any] | None = None
    prev_hash: str
    hash: str


class AuditResponse(BaseModel):
    entries: list[AuditItem]


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200)


class LoginResponse(BaseModel):
    name: str
    role: str


class Message(BaseModel):
    detail: str


class CheckResponse(BaseModel):
    kb: str
    today: str
    problems: int
    stale_references: list[dict[str, Any]]
    amount_conflicts: list[dict[str, Any]]
    phone_conflicts: list[dict[str, Any]]
    hours_conflicts: list[dict[str, Any]]
    unreviewed: list[dict[str, Any]]
