"""Wire formats of the evaluation routes (/v1/eval/…): a run's request, its figures and outcomes, comparisons, history."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.validation import KBName

Suite = Literal["retrieval", "classify", "reply", "laws"]
Split = Literal["dev", "test"]
Figures = dict[str, float | int | None]


class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dense: float | None = Field(default=None, ge=0.0, le=10.0)
    bm25: float | None = Field(default=None, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _not_both_zero(self) -> Weights:
        if self.dense == 0 and self.bm25 == 0:
            raise ValueError("dense 与 bm25 权重不能同时为 0")
        return self


class Gates(BaseModel):
    """The reply composer's thresholds (kb/reply/composer.py ReplyConfig) a run may try instead of the defaults."""

    model_config = ConfigDict(extra="forbid")

    min_cosine: float | None = Field(default=None, ge=0.0, le=1.0)
    sure_cosine: float | None = Field(default=None, ge=0.0, le=1.0)
    min_coverage: float | None = Field(default=None, ge=0.0, le=1.0)
    min_in_scope: float | None = Field(default=None, ge=0.0, le=1.0)
    candidate_margin: float | None = Field(default=None, ge=0.0, le=1.0)


class EvalConfig(BaseModel):
    """Overrides for one run only; the live service keeps its settings."""

    model_config = ConfigDict(extra="forbid")

    fusion: str | None = None
    rrf_k: int | None = Field(default=None, ge=1, le=1000)
    weights: Weights | None = None
    gates: Gates | None = None

    @field_validator("fusion")
    @classmethod
    def _fusion(cls, value: str | None) -> str | None:
        if value is not None and value not in ("rrf", "weighted"):
            raise ValueError(f"融合方式“{value[:20]}”无效，可选：rrf、weighted")
        return value


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb: KBName = "minzheng"
    suite: Suite
    split: Split = "dev"
    config: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="after")
    def _config_fits_suite(self) -> RunBody:
        if self.suite == "classify" and self.config.model_dump(exclude_none=True):
            raise ValueError("工单分类评测不使用检索或答复配置，请去掉 config")
        if self.suite in ("retrieval", "laws") and self.config.gates is not None:
            raise ValueError("config.gates 只适用于答复评测（reply）")
        if self.suite == "retrieval" and self.split != "dev":
            raise ValueError("检索金标只有 dev 划分（eval/data/retrieval_dev.jsonl）")
        return self


class RunStarted(BaseModel):
    run_id: str
    status: str


class RunSummary(BaseModel):
    run_id: str
    kb: str
    suite: str
    split: str
    config: dict[str, Any]
    status: str
    status_name: str
    actor: str
    kb_version: str
    created: str
    finished: str | None
    seconds: float | None
    figures: Figures | None
    error: str


class RunItem(BaseModel):
    id: str
    query: str
    outcome: str
    ok: bool


class Progress(BaseModel):
    done: int
    total: int


class RunDetail(RunSummary):
    progress: Progress | None = None
    items: list[RunItem]


class RunList(BaseModel):
    runs: list[RunSummary]


class FigureRow(BaseModel):
    name: str
    a: float | int | None
    b: float | int | None
    delta: float | None


class Outcome(BaseModel):
    outcome: str
    ok: bool


class DifferingItem(BaseModel):
    id: str
    query: str
    a: Outcome
    b: Outcome


class Comparison(BaseModel):
    a: RunSummary
    b: RunSummary
    figures: list[FigureRow]
    differing: list[DifferingItem]
    same: int


class PublishPoint(BaseModel):
    time: str
    version: str
    figures: Figures


class RunPoint(BaseModel):
    run_id: str
    time: str
    split: str
    config: dict[str, Any]
    figures: Figures


class History(BaseModel):
    kb: str
    suite: str
    publishes: list[PublishPoint] = Field(description="每次发布时 corpus/<kb>/gold.jsonl 的 Recall@5、MRR@10（审计记录）")
    runs: list[RunPoint] = Field(description="从评测页运行并已完成的评测，按时间先后")
