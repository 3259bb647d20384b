"""Zip archives (XLSX, DOCX, ZIP) checked before they are opened.

An XLSX or DOCX is a zip: a 40 KB upload can unpack to gigabytes and stall
every agent's search. ``check_archive`` reads only the central directory and
refuses too many entries or too large a declared unpacked size; ``open_archive``
also enforces the size while reading, since the directory can lie.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

from kb.errors import PayloadTooLarge
from kb.settings import Settings

_DEFAULTS = Settings.model_fields


def check_archive(source: str | Path | IO[bytes], max_entries: int | None = None,
                  max_unpacked_bytes: int | None = None) -> zipfile.ZipFile:
    """The opened archive once its entry count and declared unpacked size are within the limits.

    Raises PayloadTooLarge (HTTP 413) with a Chinese message otherwise, and for a file that is not a zip.
    """
    max_entries = max_entries or _DEFAULTS["max_zip_entries"].default
    max_unpacked_bytes = max_unpacked_bytes or _DEFAULTS["max_zip_unpacked_bytes"].default
    name = Path(source).name if isinstance(source, (str, Path)) else "上传文件"
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile as exc:
        raise PayloadTooLarge(f"文件“{name}”不是有效的 XLSX/DOCX/ZIP 文件") from exc
    infos = archive.infolist()
    if len(infos) > max_entries:
        archive.close()
        raise PayloadTooLarge(f"文件“{name}”包含 {len(infos)} 个条目，上限为 {max_entries} 个，拒绝读取")
    total = sum(i.file_size for i in infos)
    if total > max_unpacked_bytes:
        archive.close()
        raise PayloadTooLarge(f"文件“{name}”解压后约 {total / 1048576:.0f} MB，上限为 "
                              f"{max_unpacked_bytes / 1048576:.0f} MB，拒绝读取")
    return archive


def read_member(archive: zipfile.ZipFile, member: str, max_bytes: int | None = None) -> bytes:
    """One entry's bytes, stopped at ``max_bytes`` even if the directory understated its size."""
    max_bytes = max_bytes or _DEFAULTS["max_zip_unpacked_bytes"].default
    out = bytearray()
    with archive.open(member) as fh:
        while chunk := fh.read(1 << 20):
            out += chunk
            if len(out) > max_bytes:
                raise PayloadTooLarge(f"条目“{member[:40]}”解压后超过 {max_bytes / 1048576:.0f} MB，拒绝读取")
    return bytes(out)


def check_file(path: str | Path, settings: Settings | None = None) -> None:
    """For loaders: raise PayloadTooLarge if the XLSX/DOCX/ZIP at ``path`` is a bomb, else return."""
    settings = settings or Settings()
    check_archive(path, settings.max_zip_entries, settings.max_zip_unpacked_bytes).close()
