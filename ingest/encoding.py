"""Reading a file's text for ingestion: size limit first, then encoding detection (kb/textio.py)."""

from __future__ import annotations

from pathlib import Path

from kb.problems import LoadError, Rejection
from kb.textio import UNDECODABLE, UndecodableText
from kb.textio import decode_bytes as _decode


def decode_bytes(data: bytes, name: str) -> tuple[str, str]:
    try:
        return _decode(data, name)
    except UndecodableText:
        raise LoadError(Rejection(name, "整个文件", "", "", UNDECODABLE)) from None


def check_size(path: Path, max_bytes: int) -> None:
    size = path.stat().st_size
    if size > max_bytes:
        raise LoadError(
            Rejection(str(path), "整个文件", "", "", f"文件过大（{size / 1048576:.1f} MB），上限为 {max_bytes / 1048576:.1f} MB，请拆分后导入")
        )


def read_text(path: Path, max_bytes: int) -> tuple[str, str]:
    check_size(path, max_bytes)
    return decode_bytes(path.read_bytes(), str(path))
