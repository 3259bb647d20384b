"""Wire formats of the reviewer's queue, drafts and knowledge gaps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kb.interactions import VERDICTS


class QueueItem(BaseModel):
    id: str = Field(description="f<n>: 坐席标记的反馈；e<n>: 抽检的答复或分类")
    kb: str
    kind: str = Field(description="reply | result | classification")
    question: str = Field(description="已脱敏")
    shown: dict[str, Any]
    kb_version: str
    rating: str | None = None
    note: str | None = None
    created: str


class QueueResponse(BaseModel):
    source: str
    kb: str | None
    sample_rate: float
    items: list[QueueItem]


class CorrectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    library: str = Field(max_length=32)
    record_id: str | None = Field(default=None, max_length=200)
    record: dict[str, Any]


class VerdictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: str
    note: str | None = Field(default=None, max_length=1000)
    correction: CorrectionBody | None = None

    @field_validator("verdict")
    @classmethod
    def _verdict(cls, v: str) -> str:
        if v not in VERDICTS:
            raise ValueError("评审结论应为 correct（正确）、needs_fix（需修改）或 wrong（错误）")
        return v


class VerdictResponse(BaseModel):
    id: int
    item_id: str
    verdict: str
    draft_id: int | None


class DraftEdit(BaseModel):
    by: str
    time: str
    fields: list[str]
    note: str


class DraftItem(BaseModel):
    id: int
    created: str
    kb: str
    library: str
    record_id: str
    title: str
    base_revision: int | None = Field(description="草稿所基于的版本；新建记录为 null")
    current_revision: int | None
    stale: bool = Field(description="记录在起草后已被修改：批准会被拒绝（409）")
    record: dict[str, Any]
    diff: list[dict[str, Any]]
    proposed_by: str
    item_id: str
    note: str
    status: str
    decided_by: str | None
    reason: str
    published_revision: int | None
    edits: list[DraftEdit] = Field(description="审批前对草稿的修改（谁、何时、哪些字段），取自审计记录")


class DraftsResponse(BaseModel):
    kb: str
    drafts: list[DraftItem]


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("驳回草稿必须说明原因")
        return v


class ReviseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: dict[str, Any]
    note: str = Field("", max_length=500)
    edits: int | None = Field(None, ge=0, description="打开表单时草稿已有的修改次数；此后若有他人修改则返回 409")


class ApproveResponse(BaseModel):
    draft: DraftItem
    revision: int
    indexed: bool
    index_version: str
    index_error: str


class Closest(BaseModel):
    id: str
    title: str
    score: float


class GapItem(BaseModel):
    id: str
    count: int
    examples: list[str]
    closest: Closest | None = None
    reasons: list[str] = Field(description="转办 / 没用 / 无相近结果")


class GapDraftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: dt.date | None = None
    record: dict[str, Any] | None = Field(default=None, description="覆盖预填字段（如 answer、topics）")
