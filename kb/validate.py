"""Turn raw records into validated chunks, collecting rejections and warnings.

Cross-record checks live here too: duplicate ids, an answer citing a policy or
article that does not exist, a superseded policy whose successor is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from kb.chunking import answer_chunk, contact_chunk, policy_chunks, problem_chunk
from kb.problems import Rejection
from kb.recordcodec import RawRecord, model_content
from kb.records import Chunk
from kb.schema import Answer, Contact, PolicyMeta, Problem, explain
from kb.taxonomy import Taxonomy
from kb.topics import infer_topics

_MODELS: dict[str, type[BaseModel]] = {"answer": Answer, "contact": Contact, "problem": Problem}


@dataclass
class Document:
    doc_id: str
    library: str
    source: str
    chunks: list[Chunk]
    content_hash: str
    record: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    origin: RawRecord | None = None


@dataclass
class ValidationOutcome:
    documents: list[Document] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inferred_topics: dict[str, list[str]] = field(default_factory=dict)


def plain_policy_id(kb: str, relpath: str, title: str) -> str:
    """A stable id for a file without front matter: its path under the ingested folder and its title, never its content."""
    stem = Path(relpath).stem
    ascii_part = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:30]
    digest = hashlib.sha1(f"{Path(relpath).as_posix()}|{title}".encode()).hexdigest()[:8]
    return f"{kb}-pol-{ascii_part + '-' if ascii_part else ''}{digest}"


def _hash_chunks(chunks: list[Chunk]) -> str:
    payload = [{k: v for k, v in c.to_json().items() if k != "source"} for c in chunks]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class Validator:
    def __init__(self, kb: str, taxonomy: Taxonomy, topic_keywords: dict[str, list[str]], chunk_chars: int, overlap: int,
                 context: bool = True):
        self.kb = kb
        self.taxonomy = taxonomy
        self.topic_keywords = topic_keywords
        self.chunk_chars = chunk_chars
        self.context = context
        self.overlap = overlap

    def run(self, records: list[RawRecord], known_policies: dict[str, tuple[PolicyMeta, set[str]]] | None = None,
            strict_refs: bool = True) -> ValidationOutcome:
        """Validate a batch; ``known_policies`` (from the store) satisfy references the batch does not.

        With ``strict_refs`` off (building the index from the store) a broken reference is a warning,
        not a rejection: the answer stays searchable and ``kb check`` lists it.
        """
        out = ValidationOutcome()
        seen: dict[str, str] = {}
        policies: dict[str, tuple[PolicyMeta, set[str]]] = {}
        pending_answers: list[tuple[RawRecord, Answer]] = []
        ctx = {"taxonomy": self.taxonomy}
        for rec in records:
            if "__invalid__" in rec.data:
                reason = rec.data["__invalid__"]
                out.rejections.append(Rejection(rec.file, rec.location, "", "", reason if isinstance(reason, str) and reason else "记录应为“字段: 值”的映射"))
                continue
            try:
                model = self._validate(rec, ctx, out)
            except ValueError as exc:
                if not isinstance(exc, ValidationError):
                    out.rejections.append(Rejection(rec.file, rec.location, str(rec.data.get("id", "")), "topics", str(exc)))
                    continue
                rid = str(rec.data.get("id", "")) if isinstance(rec.data, dict) else ""
                for fld, reason in explain(exc):
                    out.rejections.append(Rejection(rec.file, rec.location, rid, fld, reason))
                continue
            except ValidationError as exc:
                rid = str(rec.data.get("id", "")) if isinstance(rec.data, dict) else ""
                for fld, reason in explain(exc):
                    out.rejections.append(Rejection(rec.file, rec.location, rid, fld, reason))
                continue
            if model.id in seen:
                out.rejections.append(Rejection(rec.file, rec.location, model.id, "id", f"编号重复：已在 {seen[model.id]} 使用"))
                continue
            seen[model.id] = f"{Path(rec.file).name} {rec.location}"
            source = f"{rec.file}#{rec.location}"
            if isinstance(model, PolicyMeta):
                articles = rec.parsed.articles if rec.parsed else []
                if not articles:
                    out.rejections.append(Rejection(rec.file, rec.location, model.id, "正文", "正文为空：未找到任何条文或段落"))
                    continue
                chunks = policy_chunks(self.kb, model, articles, source, self.chunk_chars, self.overlap, self.context)
                policies[model.id] = (model, {a.number for a in articles if a.number})
                out.documents.append(Document(model.id, "policy", source, chunks, _hash_chunks(chunks),
                                              model_content(model, rec.parsed), model.title, rec))
            elif isinstance(model, Answer):
                pending_answers.append((rec, model))
            elif isinstance(model, Contact):
                chunk = contact_chunk(self.kb, model, source, self.taxonomy)
                out.documents.append(Document(model.id, "contact", source, [chunk], _hash_chunks([chunk]),
                                              model_content(model, None), model.unit, rec))
            elif isinstance(model, Problem):
                chunk = problem_chunk(self.kb, model, source, self.taxonomy)
                out.documents.append(Document(model.id, "problem", source, [chunk], _hash_chunks([chunk]),
                                              model_content(model, None), model.problem[:200], rec))
        every_policy = {**(known_policies or {}), **policies}
        self._check_successors(policies, every_policy, out)
        for rec, answer in pending_answers:
            bad = self._bad_refs(answer, every_policy, out)
            if bad and strict_refs:
                out.rejections.append(Rejection(rec.file, rec.location, answer.id, "policy_refs", bad))
                continue
            if bad:
                out.warnings.append(f"标准答复 {answer.id}：{bad}")
            chunk = answer_chunk(self.kb, answer, f"{rec.file}#{rec.location}")
            out.documents.append(Document(answer.id, "answer", chunk.source, [chunk], _hash_chunks([chunk]),
                                          model_content(answer, None), answer.question, rec))
        return out

    def _validate(self, rec: RawRecord, ctx: dict, out: ValidationOutcome) -> BaseModel:
        if rec.library != "policy":
            return _MODELS[rec.library].model_validate(rec.data, context=ctx)
        data = dict(rec.data)
        parsed = rec.parsed
        if parsed is not None and not parsed.front_matter:
            data.setdefault("id", plain_policy_id(self.kb, str(rec.extras.get("relpath", rec.file)), parsed.title))
            data.setdefault("title", parsed.title)
            data.setdefault("doc_no", parsed.doc_no)
            if parsed.effective:
                data.setdefault("effective", parsed.effective)
        if parsed is not None and not data.get("topics"):
            body = "\n".join(a.text for a in parsed.articles)
            inferred = infer_topics(str(data.get("title", "")), body, self.topic_keywords)
            if inferred:
                data["topics"] = inferred
                out.inferred_topics[str(data.get("id"))] = inferred
            else:
                raise ValueError("未能从标题和正文推断出主题，请在文件头 topics 中写明子主题代码（见 taxonomy.yaml）")
        return PolicyMeta.model_validate(data, context=ctx)

    @staticmethod
    def _check_successors(policies: dict[str, tuple[PolicyMeta, set[str]]],
                          every_policy: dict[str, tuple[PolicyMeta, set[str]]], out: ValidationOutcome) -> None:
        for meta, _ in policies.values():
            if meta.successor and meta.successor not in every_policy:
                out.warnings.append(f"{meta.id}（{meta.status}）的 successor “{meta.successor}” 不在本次导入的政策库中")

    @staticmethod
    def _bad_refs(answer: Answer, policies: dict[str, tuple[PolicyMeta, set[str]]], out: ValidationOutcome) -> str:
        problems = []
        for ref in answer.policy_refs:
            if ref.doc not in policies:
                problems.append(f"引用的政策 {ref.doc} 不存在")
                continue
            meta, articles = policies[ref.doc]
            if ref.article and ref.article not in articles:
                problems.append(f"政策 {ref.doc} 中没有 {ref.article}")
            elif meta.status != "有效":
                out.warnings.append(f"标准答复 {answer.id} 引用了{meta.status}的政策 {ref.doc}，请更新为 {meta.successor}")
        return "；".join(problems)
