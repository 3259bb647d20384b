"""Wire formats of the HTTP API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str
    kb: str = "minzheng"
    top_k: int = Field(default=5, ge=1, le=50)
    libraries: list[str] | None = None
    topics: list[str] | None = None
    district: str | None = None
    include_repealed: bool = False
    include_pending: bool = False


class SearchResultItem(BaseModel):
    id: str
    doc_id: str
    library: str
    title: str
    doc_no: str
    article: str
    topics: list[str]
    district: str | None
    street: str | None
    status: str
    effective: str = ""
    snippet: str
    score: float
    source: str
    extra: dict[str, Any]


class SearchResponse(BaseModel):
    query: str
    kb: str
    results: list[SearchResultItem]
    expansions: list[str]
    took_ms: float


class ContactItem(BaseModel):
    id: str
    unit: str
    level: str
    district: str | None
    street: str | None
    phone: str
    address: str
    hours: str
    duties: str
    topics: list[str]


class ContactsResponse(BaseModel):
    kb: str
    count: int
    contacts: list[ContactItem]
