"""Files → store of record → search index, for one knowledge base.

``kb ingest PATH`` adds and updates what it finds under PATH and never removes a
record that came from elsewhere: removal is explicit (``--sync`` mirrors one folder,
``kb records retire`` retires one record). A record changes only when its source
file changed since it was last ingested, so an unchanged corpus file never
overwrites an edit made over the API. The index is then derived from the store
(``kb/publish.py``); unchanged text is never re-embedded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders import discover, load_file
from kb.editing import revert_write
from kb.embedding import get_embedder
from kb.errors import GuardRefused, IngestFailed
from kb.index import IndexLayout, check_embedder, read_manifest
from kb.problems import LoadError, Rejection, write_report
from kb.publish import Publisher, indexed_generation, known_policies, validator_for
from kb.recordcodec import RawRecord
from kb.settings import PROJECT_ROOT, Settings
from kb.store import Change, RecordStore
from kb.storefactory import open_store

Progress = Callable[[str, int, int], None]
Confirm = Callable[[list[str]], bool]


@dataclass
class IngestSummary:
    kb: str
    version: str = ""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    chunks: int = 0
    vectors: int = 0
    embedded: int = 0
    seconds: float = 0.0
    files: int = 0
    conflicts: list[str] = field(default_factory=list)
    kept_edits: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    pending_retire: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inferred_topics: dict[str, list[str]] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)
    report_path: str = ""

    @property
    def ok(self) -> bool:
        return not self.rejections


def source_label(root: Path) -> str:
    """How a source folder is named in the store: relative to the project when inside it, so clones agree."""
    resolved = root.resolve()
    try:
        return resolved.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return resolved.as_posix()


def run_ingest(
    settings: Settings,
    kb: str,
    paths: list[Path],
    rebuild: bool = False,
    progress: Progress | None = None,
    actor: str = "ingest",
    sync: bool = False,
    confirm: Confirm | None = None,
    store: RecordStore | None = None,
    dry_run: bool = False,
    source_name: str | None = None,
) -> IngestSummary:
    """Ingest files into the store and re-index; with ``sync`` retire what vanished from the folder.

    ``confirm`` receives the ids that a sync would retire and says whether to go ahead; without it a
    sync only lists them (``summary.pending_retire``). ``dry_run`` reports what would be added, updated
    and rejected and changes nothing.
    """
    started = time.perf_counter()
    summary = IngestSummary(kb)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise IngestFailed(f"路径不存在：{'、'.join(missing)}")
    layout = IndexLayout(settings.data_dir, kb)
    vid = layout.current()
    if vid and not rebuild:
        check_embedder(read_manifest(layout, vid), get_embedder(settings), kb)
    store = store or open_store(settings)
    batches = [_load_and_validate(settings, kb, root, summary, progress, store, source_name) for root in paths]
    if dry_run:
        for changes, _ in batches:
            plan = store.upsert_from_source(kb, changes, actor, dry_run=True)
            summary.added += len(plan.added)
            summary.updated += len(plan.updated) + len(plan.conflicts)
            summary.unchanged += len(plan.unchanged) + len(plan.kept_edits)
            summary.conflicts += plan.conflicts
            summary.kept_edits += plan.kept_edits
        summary.seconds = time.perf_counter() - started
        return summary
    if not any(changes for changes, _ in batches) and not sync:
        summary.seconds = time.perf_counter() - started
        _write_rejections(layout, summary)
        failure = IngestFailed(f"没有可导入的有效记录（{summary.rejected} 条被拒绝），原索引保持不变；详见 {summary.report_path}")
        failure.summary = summary  # type: ignore[attr-defined] - the upload route reports the rejections
        raise failure
    touched: set[str] = set()
    for changes, root in batches:
        outcome = store.upsert_from_source(kb, changes, actor)
        touched.update(outcome.added + outcome.updated + outcome.conflicts)
        summary.added += len(outcome.added)
        summary.updated += len(outcome.updated) + len(outcome.conflicts)
        summary.unchanged += len(outcome.unchanged) + len(outcome.kept_edits)
        summary.conflicts += outcome.conflicts
        summary.kept_edits += outcome.kept_edits
        if sync:
            present = {c.record_id for c in changes} | {r.record_id for r in summary.rejections if r.record_id}
            gone = store.retire_missing(kb, root, present, actor, dry_run=True)
            if gone and confirm is not None and confirm(gone):
                store.retire_missing(kb, root, present, actor, dry_run=False)
                summary.retired += gone
                touched.update(gone)
            else:
                summary.pending_retire += gone
    summary.deleted = len(summary.retired)
    for cid in summary.conflicts:
        summary.warnings.append(f"记录 {cid} 的文件与界面修改都有变化：已以文件内容为新版本，界面修改保留在历史中")
    if rebuild or indexed_generation(settings, kb) != store.generation(kb):
        try:
            result = Publisher(settings, store).reindex(kb, rebuild=rebuild, progress=progress)
        except GuardRefused:
            for rid in sorted(touched):  # the store must match what stays live
                revert_write(store, kb, store.get(kb, rid))
            raise
        summary.version, summary.chunks, summary.vectors, summary.embedded = (
            result.version, result.chunks, result.vectors, result.embedded)
        summary.warnings += result.warnings
    else:
        summary.version = layout.current() or ""
        manifest = read_manifest(layout, summary.version) if summary.version else {}
        summary.chunks = sum(manifest.get("counts", {}).values())
        summary.vectors = int(manifest.get("vectors", 0))
    summary.seconds = time.perf_counter() - started
    _write_rejections(layout, summary)
    return summary


def _load_and_validate(
    settings: Settings, kb: str, root: Path, summary: IngestSummary, progress: Progress | None, store: RecordStore,
    source_name: str | None = None,
) -> tuple[list[Change], str]:
    files, skipped = discover([root])
    base = root if root.is_dir() else root.parent
    label = source_name or source_label(base)
    summary.files += len(files)
    summary.skipped_files += [str(p) for p in skipped]
    records: list[RawRecord] = []
    for i, path in enumerate(files, start=1):
        try:
            loaded = load_file(path, settings.max_upload_bytes)
        except LoadError as exc:
            summary.rejections.append(exc.rejection)
            loaded = []
        for rec in loaded:
            rec.extras["relpath"] = path.relative_to(base).as_posix()
        records.extend(loaded)
        if progress:
            progress("load", i, len(files))
    outcome = validator_for(settings, kb).run(records, known_policies=known_policies(store, kb))
    summary.rejections.extend(outcome.rejections)
    summary.warnings.extend(outcome.warnings)
    summary.inferred_topics.update(outcome.inferred_topics)
    summary.rejected = len({(r.file, r.location) for r in summary.rejections})
    changes = [
        Change(d.library, d.doc_id, d.record, d.title[:200], "", label,
               str(d.origin.extras.get("relpath", "")) if d.origin else "")
        for d in outcome.documents
    ]
    return changes, label


def _write_rejections(layout: IndexLayout, summary: IngestSummary) -> None:
    if not summary.rejections:
        return
    path = layout.reports / f"rejections-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    write_report(path, summary.rejections)
    summary.report_path = str(path)
