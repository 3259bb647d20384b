"""Files the service writes for someone to download (classified tickets, report material) and their expiry.

They hold masked but still sensitive call data and nobody deletes them by hand, so each lives
``KB_EXPORT_TTL_HOURS`` (default 24) after it was written: expired ones are removed at start-up
and whenever a new one is written, and a link to an expired one answers 410 with a Chinese
explanation, so an agent knows to generate it again rather than suspecting a broken link.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from kb.errors import Gone, NotFound
from kb.settings import Settings


def exports_dir(settings: Settings) -> Path:
    """Classified ticket files: <token>.xlsx."""
    return settings.data_dir / "exports"


def reports_dir(settings: Settings) -> Path:
    """Report material: one folder per report id."""
    return settings.data_dir / "reports"


def expired_message(settings: Settings) -> str:
    return f"下载链接已过期（生成的文件只保留 {settings.export_ttl_hours:g} 小时），请重新上传生成"


def is_expired(path: Path, settings: Settings, now: float | None = None) -> bool:
    """Older than the TTL by its modification time (a report folder's is when its files were written)."""
    return path.stat().st_mtime < (now or time.time()) - settings.export_ttl_hours * 3600


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep(settings: Settings, now: float | None = None) -> list[Path]:
    """Remove every expired download; returns what was removed (start-up, and before each new export)."""
    removed = []
    for folder in (exports_dir(settings), reports_dir(settings)):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            try:
                if is_expired(entry, settings, now):
                    _remove(entry)
                    removed.append(entry)
            except FileNotFoundError:  # removed meanwhile by another request
                continue
    return removed


def checked(path: Path, entry: Path, settings: Settings, missing: str) -> Path:
    """``path`` if it may still be downloaded. ``entry`` is what expires (the file itself, or its report
    folder); an expired one is removed and answered with 410, a missing one with 404 ``missing``."""
    if not path.is_file():
        raise NotFound(missing)
    if is_expired(entry, settings):
        _remove(entry)
        raise Gone(expired_message(settings))
    return path
