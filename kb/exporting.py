"""Handover: everything a client owns about one knowledge base, in one zip, and back.

The export holds every library in formats ``kb ingest`` reads (policies as
Markdown with front matter, answers as YAML, contacts and problems as CSV), every
revision of every record (retired ones included), the audit entries of the kb,
the taxonomy and dictionaries, and the live index's vectors with the embedder
fingerprint, plus a manifest with a SHA-256 for every file. Importing it on a
fresh machine restores the store and rebuilds the index without re-embedding
when the embedder matches.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import insert, select

from kb.embedding import EmbeddingCache, get_embedder, same_space
from kb.errors import Conflict, InvalidQuery
from kb.index import IndexLayout, LoadedIndex, read_manifest
from kb.interactions import InteractionStore
from kb.publish import Publisher, PublishResult
from kb.records import Chunk
from kb.settings import Settings
from kb.store import RETIRED, RecordStore, append_audit, records, revisions
from kb.vectorstore import reader_client

FORMAT = "hotline-kb-export/1"
CONTACT_COLUMNS = ["id", "unit", "level", "district", "street", "phone", "address", "hours", "duties", "topics"]
PROBLEM_COLUMNS = ["id", "problem", "handling", "responsible", "basis", "topics", "updated"]
SHARED_FILES = ["taxonomy.yaml", "synonyms.tsv", "userdict.txt", "stopwords.txt", "followups.yaml"]


def _policy_markdown(content: dict[str, Any]) -> str:
    meta = {k: v for k, v in content.items() if k != "body"}
    return "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n" + str(content.get("body", ""))


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (";".join(v) if isinstance(v, list) else ("" if v is None else v)) for k, v in row.items()})
    return out.getvalue()


def export_kb(settings: Settings, store: RecordStore, kb: str, out: Path, actor: str) -> dict[str, Any]:
    states = store.all_active(kb)
    if not states and not store.list(kb)[0]:
        raise InvalidQuery(f"知识库“{kb}”的记录库为空，没有可导出的内容")
    files: dict[str, bytes] = {}
    answers = [s.content for s in states if s.library == "answer"]
    if answers:
        files[f"{kb}/answers/answers.yaml"] = yaml.safe_dump(answers, allow_unicode=True, sort_keys=False).encode()
    for s in states:
        if s.library == "policy":
            files[f"{kb}/policies/{s.id}.md"] = _policy_markdown(s.content).encode()
    contacts = [s.content for s in states if s.library == "contact"]
    if contacts:
        files[f"{kb}/contacts.csv"] = _csv(contacts, CONTACT_COLUMNS).encode("utf-8")
    problems = [s.content for s in states if s.library == "problem"]
    if problems:
        files[f"{kb}/problems/problems.csv"] = _csv(problems, PROBLEM_COLUMNS).encode("utf-8")
    with store.engine.connect() as c:
        rec_rows = [dict(r) for r in c.execute(select(records).where(records.c.kb == kb).order_by(records.c.id)).mappings()]
        rev_rows = [dict(r) for r in c.execute(select(revisions).where(revisions.c.kb == kb)
                                               .order_by(revisions.c.record_id, revisions.c.revision)).mappings()]
    files["store/records.jsonl"] = _jsonl(rec_rows)
    files["store/revisions.jsonl"] = _jsonl(rev_rows)
    files["store/audit.jsonl"] = _jsonl([e.to_json() for e in store.audit_entries(kb=kb, limit=10_000_000)])
    # Stored interactions (masked questions, answers, feedback, reviews, drafts) travel with the knowledge.
    for table, rows in InteractionStore(store.engine).export_rows(kb).items():
        files[f"interactions/{table}.jsonl"] = _jsonl(rows)
    for name in SHARED_FILES:
        path = settings.corpus_dir / name
        if path.exists():
            files[f"shared/{name}"] = path.read_bytes()
    for path in sorted((settings.corpus_dir / "duties").glob("*.yaml")):
        files[f"shared/duties/{path.name}"] = path.read_bytes()
    layout = IndexLayout(settings.data_dir, kb)
    vid = layout.current()
    embedder_fp = None
    if vid:
        manifest = read_manifest(layout, vid)
        embedder_fp = manifest.get("embedder")
        index = LoadedIndex(layout, vid, manifest, reader_client(settings), settings.hnsw_search_ef, settings.today)
        rows, vectors = index.arrays()
        files["index/chunks.jsonl"] = _jsonl([c.to_json() for c in index.chunks])
        files["index/vectors.npy"] = _npy(vectors)
        files["index/rows.npy"] = _npy(rows)
    manifest_out = {
        "format": FORMAT,
        "kb": kb,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "records": len(rec_rows),
        "revisions": len(rev_rows),
        "embedder": embedder_fp,
        "index_version": vid,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
        zf.writestr("manifest.json", json.dumps(manifest_out, ensure_ascii=False, indent=1))
    tmp.replace(out)
    store.audit_event(actor, "export", kb, reason=out.name, details={"records": len(rec_rows), "files": len(files)})
    return manifest_out


def import_kb(settings: Settings, store: RecordStore, archive: Path, actor: str, kb: str | None = None,
              max_unpacked: int = 2 * 1024**3) -> tuple[dict[str, Any], PublishResult, int]:
    """Restore an export into an empty kb; returns (manifest, the index built, vectors taken from the archive)."""
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InvalidQuery(f"{archive.name} 不是有效的导出文件（zip）：{exc}") from None
    with zf:
        if sum(i.file_size for i in zf.infolist()) > max_unpacked:
            raise InvalidQuery(f"{archive.name} 解压后超过 {max_unpacked // 1024**2} MB，拒绝导入")
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except (KeyError, ValueError):
            raise InvalidQuery(f"{archive.name} 缺少可读的 manifest.json，不是本系统的导出文件") from None
        if manifest.get("format") != FORMAT:
            raise InvalidQuery(f"{archive.name} 的格式“{manifest.get('format')}”不受支持（应为 {FORMAT}）")
        for name, digest in manifest["files"].items():
            if hashlib.sha256(zf.read(name)).hexdigest() != digest:
                raise InvalidQuery(f"{archive.name} 中的 {name} 校验和不符，文件已损坏或被改动")
        source_kb = manifest["kb"]
        target = kb or source_kb
        if store.list(target)[0]:
            raise Conflict(f"知识库“{target}”的记录库不为空；导入只用于新建，请换一个名称（--kb）")
        rec_rows = _read_jsonl(zf.read("store/records.jsonl"))
        rev_rows = _read_jsonl(zf.read("store/revisions.jsonl"))
        extra = {name: zf.read(name) for name in manifest["files"] if name.startswith("interactions/")}
        draft_edits = [e for e in _read_jsonl(zf.read("store/audit.jsonl")) if e.get("action") == "draft_edit"] \
            if "store/audit.jsonl" in manifest["files"] else []
        reused = 0
        embedder = get_embedder(settings)
        if same_space(manifest.get("embedder") or {}, embedder.fingerprint) and "index/vectors.npy" in manifest["files"]:
            reused = _seed_cache(settings, embedder.fingerprint_key, zf)
    with store.transaction() as c:
        for row in rec_rows:
            c.execute(insert(records).values(**{**row, "kb": target}))
        for row in rev_rows:
            c.execute(insert(revisions).values(**{**row, "kb": target}))
        append_audit(c, actor=actor, action="import", kb=target, reason=archive.name,
                     details={"from_kb": source_kb, "records": len(rec_rows), "revisions": len(rev_rows),
                              "active": sum(1 for r in rec_rows if r["status"] != RETIRED)})
    interactions = {name.removeprefix("interactions/").removesuffix(".jsonl"): _read_jsonl(zf_data)
                    for name, zf_data in extra.items()}
    if interactions:
        new_ids = InteractionStore(store.engine).import_rows(target, interactions)
        _replay_draft_edits(store, target, source_kb, actor, draft_edits, new_ids.get("interaction_drafts", {}))
    result = Publisher(settings, store).reindex(target)
    return manifest, result, reused


def _replay_draft_edits(store: RecordStore, kb: str, source_kb: str, actor: str, entries: list[dict[str, Any]],
                        draft_ids: dict[int, int]) -> None:
    """A pending draft's edit trail lives in the audit, which an import starts afresh: each ``draft_edit`` of an
    imported draft is appended again under the draft's new number, with the original editor, and the original
    time and sequence number under ``imported`` (the import's own actor too), so no revision of it is lost."""
    with store.transaction() as c:
        for e in sorted(entries, key=lambda e: e["seq"]):
            details = e.get("details") or {}
            new = draft_ids.get(details.get("draft_id"))
            if new is None:
                continue
            append_audit(c, actor=e["actor"], action="draft_edit", kb=kb, record_id=e.get("record_id"),
                         reason=e.get("reason") or "", proposed_by=e.get("proposed_by"),
                         details={**details, "draft_id": new,
                                  "imported": {"from_kb": source_kb, "draft_id": details.get("draft_id"),
                                               "seq": e["seq"], "time": e["time"], "by": actor}})


def _seed_cache(settings: Settings, fp_key: str, zf: zipfile.ZipFile) -> int:
    chunks = [Chunk.from_json(json.loads(line)) for line in zf.read("index/chunks.jsonl").decode().splitlines() if line]
    vectors = np.load(io.BytesIO(zf.read("index/vectors.npy")))
    rows = np.load(io.BytesIO(zf.read("index/rows.npy")))
    texts: list[str] = []
    seen_for_chunk: dict[int, int] = {}
    for row in rows:
        chunk = chunks[int(row)]
        k = seen_for_chunk.get(int(row), 0)
        unique = list(dict.fromkeys(chunk.embed_texts))
        texts.append(unique[k])
        seen_for_chunk[int(row)] = k + 1
    cache = EmbeddingCache(settings.embed_cache_path)
    try:
        cache.put_many(fp_key, {EmbeddingCache.text_hash(t): v for t, v in zip(texts, vectors)})
    finally:
        cache.close()
    return len(texts)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows).encode()


def _read_jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]
