"""Structure-aware chunking for Chinese government text.

Policies are split at 章/节/条 and an article keeps its number as metadata, so a
citation can name 第五条. An article longer than the target is split between
sentences (。！？；), never inside one, with the previous sentence repeated as a
small overlap. Standard answers, contacts and problem entries are one node each.
"""

from __future__ import annotations

import re

from kb.records import Chunk
from kb.schema import Answer, Contact, PolicyMeta, Problem
from kb.structure import Article
from kb.taxonomy import Taxonomy

_SENTENCE = re.compile(r"(?<=[。！？；!?;])|\n")


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s and s.strip()]


def split_long(text: str, limit: int, overlap: int) -> list[str]:
    """Pieces of at most ~limit characters made of whole sentences; the last sentence of a piece may open the next."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    for sentence in split_sentences(text):
        if current and sum(map(len, current)) + len(sentence) > limit:
            pieces.append("".join(current))
            tail = current[-1] if len(current[-1]) <= overlap else ""
            current = [tail] if tail else []
        current.append(sentence)
    if current:
        pieces.append("".join(current))
    return pieces


def policy_chunks(
    kb: str, meta: PolicyMeta, articles: list[Article], source: str, limit: int, overlap: int, context: bool = True
) -> list[Chunk]:
    """One chunk per article (long ones split); with ``context`` the embedded and BM25 text lead with the
    document title and its 章/节, so that 第十一条 of one law and 第十一条 of another are told apart."""
    chunks: list[Chunk] = []
    for i, art in enumerate(articles):
        key = art.number or f"段{i + 1}"
        pieces = split_long(art.text, limit, overlap)
        for j, piece in enumerate(pieces):
            heading = " ".join(x for x in (meta.title, art.chapter, art.section) if x) if context else ""
            chunks.append(
                Chunk(
                    id=f"{meta.id}#{key}" + (f"-{j + 1}" if len(pieces) > 1 else ""),
                    doc_id=meta.id,
                    kb=kb,
                    library="policy",
                    title=meta.title,
                    text=piece,
                    embed_texts=[f"{heading}\n{piece}"[:600] if heading else piece[:600]],
                    bm25_text=f"{meta.title} {art.chapter} {art.section}\n{piece}" if context else piece,
                    topics=list(meta.topics),
                    districts=[meta.scope] if meta.scope.endswith("区") else [],
                    doc_no=meta.doc_no,
                    article=art.number,
                    chapter=" ".join(x for x in (art.chapter, art.section) if x),
                    status=meta.status,
                    effective=meta.effective.isoformat() if meta.effective else "",
                    source=source,
                    extra={
                        "issuer": meta.issuer,
                        "issued": meta.issued.isoformat() if meta.issued else "",
                        "successor": meta.successor or "",
                        "scope": meta.scope,
                        "expires": meta.expires.isoformat() if meta.expires else "",
                    },
                )
            )
    return chunks


def answer_chunk(kb: str, rec: Answer, source: str) -> Chunk:
    refs = [{"doc": r.doc, "article": r.article} for r in rec.policy_refs]
    return Chunk(
        id=rec.id,
        doc_id=rec.id,
        kb=kb,
        library="answer",
        title=rec.question,
        text=rec.answer,
        embed_texts=[rec.question, *rec.variants, f"{rec.question}\n{rec.answer}"[:500]],
        bm25_text="\n".join([rec.question, *rec.variants, rec.answer]),
        topics=list(rec.topics),
        districts=list(rec.districts),
        source=source,
        extra={
            "question": rec.question,
            "variants": list(rec.variants),
            "policy_refs": refs,
            "updated": rec.updated.isoformat() if rec.updated else "",
        },
    )


def contact_chunk(kb: str, rec: Contact, source: str, taxonomy: Taxonomy) -> Chunk:
    topic_names = " ".join(taxonomy.label(t) for t in rec.topics)
    place = f"{rec.district}{rec.street}"
    text = f"{rec.unit}｜电话：{rec.phone}｜地址：{rec.address}｜办公时间：{rec.hours}｜职责：{rec.duties}"
    return Chunk(
        id=rec.id,
        doc_id=rec.id,
        kb=kb,
        library="contact",
        title=rec.unit,
        text=text,
        embed_texts=[f"{rec.unit} {place} {rec.duties}"],
        bm25_text=f"{rec.unit} {place} {rec.duties} {rec.address} {topic_names} 电话 联系方式 地址",
        topics=list(rec.topics),
        districts=[rec.district] if rec.district else [],
        street=rec.street,
        source=source,
        extra={
            "unit": rec.unit,
            "level": rec.level,
            "phone": rec.phone,
            "address": rec.address,
            "hours": rec.hours,
            "duties": rec.duties,
        },
    )


def problem_chunk(kb: str, rec: Problem, source: str, taxonomy: Taxonomy) -> Chunk:
    topic_names = " ".join(taxonomy.label(t) for t in rec.topics)
    return Chunk(
        id=rec.id,
        doc_id=rec.id,
        kb=kb,
        library="problem",
        title=rec.problem[:60],
        text=f"问题：{rec.problem}\n处置口径：{rec.handling}",
        embed_texts=[rec.problem],
        bm25_text=f"{rec.problem}\n{rec.handling}\n{rec.responsible} {topic_names}",
        topics=list(rec.topics),
        source=source,
        extra={"handling": rec.handling, "responsible": rec.responsible, "basis": rec.basis,
               "updated": rec.updated.isoformat() if rec.updated else ""},
    )
