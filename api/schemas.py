"""Wire formats of the HTTP API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.validation import MAX_BATCH_TEXTS, MAX_LIST_ITEMS, MAX_REQUEST_CHARS, KBName, QueryText, ShortText, TicketText


class ErrorBody(BaseModel):
    """Every refusal: ``detail`` is the Chinese message an agent reads."""

    detail: str
    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in [(404, "知识库不存在"), (409, "索引与向量模型不一致"), (413, "请求过大"),
                       (422, "请求内容无效"), (500, "内部错误"), (503, "服务尚未就绪")]
}
# What any route may answer (api/errors.py maps every typed error to one of these): documented once, app-wide.
EVERY_ROUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in [(401, "未登录或密钥无效"), (403, "角色无权执行此操作"), (404, "对象不存在"),
                       (409, "冲突：已被他人修改、已存在或被自测守卫拒绝"), (410, "下载链接已过期"), (413, "请求过大"),
                       (422, "请求内容无效"), (428, "缺少 If-Match 版本号"), (500, "内部错误"), (503, "服务尚未就绪")]
}


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: QueryText
    kb: KBName = "minzheng"
    top_k: int = Field(default=5, ge=1, le=50)
    libraries: list[ShortText] | None = Field(default=None, max_length=MAX_LIST_ITEMS)
    topics: list[ShortText] | None = Field(default=None, max_length=MAX_LIST_ITEMS)
    district: ShortText | None = None
    include_repealed: bool = False
    include_pending: bool = False


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: QueryText
    kb: KBName = "minzheng"
    district: ShortText | None = None
    street: ShortText | None = None


class ClassifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: TicketText | None = None
    texts: list[TicketText] | None = Field(default=None, max_length=MAX_BATCH_TEXTS)
    kb: KBName = "minzheng"

    @model_validator(mode="after")
    def _one_of(self) -> ClassifyBody:
        if (self.text is None) == (self.texts is None):
            raise ValueError("请只提供 text（单条工单）或 texts（批量工单）其中之一")
        total = len(self.text or "") + sum(len(t) for t in self.texts or [])
        if total > MAX_REQUEST_CHARS:
            raise ValueError(f"一次提交的工单共 {total} 字，超过上限 {MAX_REQUEST_CHARS} 字，请分批提交")
        return self


class Risk(BaseModel):
    level: str
    signals: list[dict[str, str]]


class LabelScore(BaseModel):
    label: str
    p: float


class Decision(BaseModel):
    industry: str
    in_scope: bool
    topic: str | None
    subtopic: str | None
    department: str | None
    confidence: float
    needs_review: bool
    reasons: list[str]
    filter_reason: str | None
    risk: Risk
    label_scores: list[LabelScore]
    model_version: str


class ClassifyBatchResponse(BaseModel):
    results: list[Decision]


class ReplyResponse(BaseModel):
    question: str
    reply: str
    basis: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    follow_up: list[str]
    confidence: float
    escalate: bool
    escalate_reason: str | None
    district: str | None
    street: str | None
    conflicts: list[dict[str, Any]]
    generation: dict[str, Any] | None
    took_ms: float
    references: list[dict[str, Any]] = Field(default_factory=list, description="转办时供坐席核实的候选答复与条款（不朗读）")
    kind: Literal["answer", "directory", "escalation"] = Field(
        "escalation", description="answer：依据标准答复；directory：依据政务联络库（办事机构的电话、地址、办公时间）；escalation：登记转办")


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
