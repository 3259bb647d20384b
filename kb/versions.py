"""Index versions for the operator: list them, and roll back to an earlier one after a bad build.

A rollback switches CURRENT atomically, like a publish, and pins the kb: the background
store sync (``kb/storesync.py``) then leaves the rolled-back version serving instead of
re-indexing at once. The next explicit write or ``kb ingest`` re-indexes from the store and
lifts the pin, which brings the index back in step; the audit entry records which store
state the serving index reflects meanwhile.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from kb.errors import IndexCorrupt, NotFound
from kb.index import IndexLayout, read_manifest
from kb.store import RecordStore

PIN_FILE = "PINNED"


@dataclass
class VersionInfo:
    version: str
    state: str  # 在用 / 可回滚 / 损坏 / 未完成
    kind: str  # 完整 / 增量
    base: str
    created: str
    chunks: int
    store_generation: int
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def list_versions(layout: IndexLayout) -> list[VersionInfo]:
    """Every version directory, newest first, with whether it could serve."""
    if not layout.versions.exists():
        return []
    live = layout.current()
    out = []
    for path in sorted((p for p in layout.versions.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True):
        vid = path.name
        if not (path / "manifest.json").exists():
            out.append(VersionInfo(vid, "未完成", "", "", "", 0, -1, "没有清单文件：导入被中断，下次导入时清理"))
            continue
        try:
            m = read_manifest(layout, vid)
        except IndexCorrupt as exc:
            out.append(VersionInfo(vid, "损坏", "", "", "", 0, -1, exc.message))
            continue
        problem = _unusable(layout, m)
        state = "在用" if vid == live else ("损坏" if problem else "可回滚")
        out.append(VersionInfo(vid, state, "增量" if m.get("base") else "完整", m.get("base", ""), m.get("created", ""),
                               sum(m.get("counts", {}).values()), int(m.get("store_generation", -1)), problem))
    return out


def _unusable(layout: IndexLayout, manifest: dict[str, Any]) -> str:
    base = manifest.get("base")
    if base:
        if not (layout.version_dir(base) / "manifest.json").exists():
            return f"所依据的完整版本 {base} 已不存在"
        try:
            read_manifest(layout, base)
        except IndexCorrupt as exc:
            return exc.message
    return ""


def rollback(layout: IndexLayout, store: RecordStore, actor: str, version: str | None = None,
             reason: str = "") -> VersionInfo:
    """Make ``version`` (default: the newest usable one before the live one) live, pin it, audit it."""
    versions = list_versions(layout)
    live = layout.current()
    if version is None:
        older = [v for v in versions if v.state == "可回滚" and (live is None or v.version < live)]
        if not older:
            raise NotFound(f"知识库“{layout.kb}”没有可回滚的更早索引版本（`kb versions --kb {layout.kb}` 查看）")
        target = older[0]
    else:
        target = next((v for v in versions if v.version == version), None)
        if target is None:
            raise NotFound(f"知识库“{layout.kb}”没有索引版本“{version[:40]}”（`kb versions --kb {layout.kb}` 查看）")
        if target.state == "在用":
            raise NotFound(f"索引版本 {version} 已在使用中")
        if target.state != "可回滚":
            raise IndexCorrupt(f"索引版本 {version} 无法使用：{target.error}")
    layout.activate(target.version)
    (layout.root / PIN_FILE).write_text(json.dumps({"version": target.version, "actor": actor, "reason": reason,
                                                    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                                   ensure_ascii=False), encoding="utf-8")
    store.audit_event(actor, "rollback", layout.kb, reason=reason or f"回滚到索引版本 {target.version}",
                      details={"from": live, "to": target.version, "reflects_generation": target.store_generation,
                               "store_generation": store.generation(layout.kb)})
    target.state = "在用"
    return target


def pinned(layout: IndexLayout) -> bool:
    """True while a rollback's version is live: the background sync must not undo the operator's choice."""
    try:
        pin = json.loads((layout.root / PIN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return pin.get("version") == layout.current()


def unpin(layout: IndexLayout) -> None:
    (layout.root / PIN_FILE).unlink(missing_ok=True)
