"""What went wrong with one record, said so a knowledge manager can fix it.

Every rejection names the file, the line or row, the record and the field, with
a Chinese reason; rejections are collected, never raised past the pipeline, so
that the good records beside a bad one are still ingested.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rejection:
    file: str
    location: str  # 第N行 / 第N行(表格行) / 整个文件
    record_id: str
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file} {self.location}".strip()
        rid = f" [{self.record_id}]" if self.record_id else ""
        fld = f" 字段 {self.field}：" if self.field else " "
        return f"{where}{rid}{fld}{self.reason}"


class LoadError(Exception):
    """A whole file cannot be read (encoding, size, syntax); carries its rejection."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(str(rejection))
        self.rejection = rejection


def write_report(path: Path, rejections: list[Rejection]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "location", "record_id", "field", "reason"])
        writer.writeheader()
        for r in rejections:
            writer.writerow(asdict(r))
