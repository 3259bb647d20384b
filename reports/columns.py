"""Ticket exports (CSV / XLSX, Chinese headers) → parsed tickets plus the rows that could not be used.

Exports come from several systems with different header spellings, so headers are
mapped through ``corpus/reports/columns.yaml``. A header nobody declared is refused by
name instead of being ignored: a renamed 满意度 column silently dropped would turn
every rate into "not evaluated". A bad row never disappears: it is kept with its row
number and reason so the report can say what it left out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from kb.errors import InvalidQuery
from kb.places import canonical_district
from kb.privacy import mask

BEIJING = ZoneInfo("Asia/Shanghai")
TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬", "其他")
RESOLVED = {"是": True, "否": False}
SATISFACTION = ("满意", "基本满意", "不满意")
CONFIRMATION = ("确认", "剔除", "待确认")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                 "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y%m%d%H%M%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H:%M")


@dataclass(frozen=True)
class Ticket:
    row: int
    ticket_id: str
    received_at: datetime
    content: str
    type: str
    district: str
    street: str
    caller: str
    unit: str
    responded_at: datetime | None
    closed_at: datetime | None
    resolved: bool | None
    satisfaction: str | None
    confirmation: str | None
    filter_reason: str
    subtopic: str | None
    caller_name: str = ""

    @property
    def masked_content(self) -> str:
        """诉求内容 as a report may show it: numbers and names masked, including the name the export's own
        name column gives, which may appear in the text without any cue (陈建国反映…)."""
        return mask(self.content, known_names=(self.caller_name,))

    @property
    def day(self) -> date:
        return self.received_at.date()

    @property
    def filtered(self) -> bool:
        return self.confirmation == "剔除"


@dataclass(frozen=True)
class BadRow:
    row: int
    reason: str
    received_at: datetime | None = None

    @property
    def kind(self) -> str:
        """The reason without the offending value, for the 'how many rows and why' summary."""
        return self.reason.split("：", 1)[0]

    def to_json(self) -> dict:
        return {"row": self.row, "reason": self.reason}


@dataclass
class ParsedExport:
    tickets: list[Ticket]
    bad: list[BadRow]
    has_subtopic: bool
    has_confirmation: bool
    rows: int


@dataclass(frozen=True)
class ColumnMap:
    required: dict[str, list[str]]
    optional: dict[str, list[str]]
    ignore: list[str]

    @classmethod
    def load(cls, path: Path) -> ColumnMap:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(data.get("required", {}), data.get("optional", {}), list(data.get("ignore", [])))

    def resolve(self, header: list[str], name: str) -> dict[str, int]:
        """field → column index; unknown and missing columns are refused with their names."""
        spelling = {s: f for f, names in {**self.required, **self.optional}.items() for s in names}
        found: dict[str, int] = {}
        unknown = []
        for i, h in enumerate(header):
            if not h or h in self.ignore:
                continue
            field = spelling.get(h)
            if field is None:
                unknown.append(h)
            elif field in found:
                raise InvalidQuery(f"{name}：列“{h}”与列“{header[found[field]]}”重复（都表示{self.required.get(field, self.optional.get(field, [field]))[0]}）")
            else:
                found[field] = i
        if unknown:
            raise InvalidQuery(f"{name}：无法识别的列“{'”“'.join(unknown)}”。请改为标准表头，或在 corpus/reports/columns.yaml 中登记该写法")
        missing = [names[0] for f, names in self.required.items() if f not in found]
        if missing:
            raise InvalidQuery(f"{name}：缺少必需列“{'”“'.join(missing)}”")
        return found


def read_table(path: Path, data: bytes | None = None) -> list[list[object]]:
    """Raw rows of the first sheet or of the CSV; cells stay datetimes where XLSX stores them."""
    suffix = path.suffix.lower()
    raw = path.read_bytes() if data is None else data
    if not raw.strip():
        raise InvalidQuery(f"{path.name}：文件为空")
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many unrelated types for a broken file
            raise InvalidQuery(f"{path.name}：无法读取 XLSX 文件（{type(exc).__name__}），请确认文件未损坏") from None
        rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        book.close()
        return rows
    if suffix == ".csv":
        from kb.textio import UndecodableText, decode_bytes

        try:
            text, _ = decode_bytes(raw, path.name)
        except UndecodableText as exc:
            raise InvalidQuery(str(exc)) from None
        return [list(r) for r in csv.reader(io.StringIO(text))]
    raise InvalidQuery(f"{path.name}：不支持的文件类型“{path.suffix}”，请使用 CSV 或 XLSX")


def parse_time(value: object) -> datetime | None:
    """A Beijing-time datetime; naive values are Beijing wall-clock time (exports never say so)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time())
    else:
        text = str(value).strip()
        if not text:
            return None
        dt = None
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            for fmt in _TIME_FORMATS:
                try:
                    dt = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if dt is None:
            raise ValueError(text)
    return dt.replace(tzinfo=BEIJING) if dt.tzinfo is None else dt.astimezone(BEIJING)


def _cell(row: list[object], i: int | None) -> object:
    if i is None or i >= len(row):
        return None
    v = row[i]
    return v.strip() if isinstance(v, str) else v


def _text(row: list[object], i: int | None) -> str:
    v = _cell(row, i)
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def parse_export(path: Path, columns: ColumnMap, data: bytes | None = None) -> ParsedExport:
    rows = read_table(path, data)
    if not rows:
        raise InvalidQuery(f"{path.name}：文件为空")
    header = ["" if h is None else str(h).strip().lstrip("\ufeff") for h in rows[0]]
    col = columns.resolve(header, path.name)
    tickets: list[Ticket] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    count = 0
    for n, row in enumerate(rows[1:], start=2):
        if not any(_text(row, i) for i in range(len(row))):
            continue
        count += 1
        parsed = _parse_row(n, row, col, seen)
        if isinstance(parsed, BadRow):
            bad.append(parsed)
        else:
            seen[parsed.ticket_id] = n
            tickets.append(parsed)
    if count == 0:
        raise InvalidQuery(f"{path.name}：只有表头，没有工单数据")
    return ParsedExport(tickets, bad, "subtopic" in col, "confirmation" in col, count)


def _parse_row(n: int, row: list[object], col: dict[str, int], seen: dict[str, int]) -> Ticket | BadRow:
    ticket_id = _text(row, col["ticket_id"])
    try:
        received = parse_time(_cell(row, col["received_at"]))
    except ValueError as exc:
        return BadRow(n, f"受理时间无法识别：“{exc}”")
    if received is None:
        return BadRow(n, "受理时间为空")
    if not ticket_id:
        return BadRow(n, "工单编号为空", received)
    if ticket_id in seen:
        return BadRow(n, f"工单编号重复：“{ticket_id}”与第 {seen[ticket_id]} 行相同", received)
    times: dict[str, datetime | None] = {}
    for field, label in (("responded_at", "首次响应时间"), ("closed_at", "办结时间")):
        try:
            times[field] = parse_time(_cell(row, col[field]))
        except ValueError as exc:
            return BadRow(n, f"{label}无法识别：“{exc}”", received)
    if times["responded_at"] is not None and times["responded_at"] < received:
        return BadRow(n, "首次响应时间早于受理时间", received)
    district_raw = _text(row, col["district"])
    try:
        district = canonical_district(district_raw)
    except InvalidQuery:
        return BadRow(n, f"区无法识别：“{district_raw}”", received)
    if district is None:
        return BadRow(n, "区为空", received)
    kind = _text(row, col["type"])
    if kind not in TYPES:
        return BadRow(n, f"诉求类型无法识别：“{kind}”不在 {'/'.join(TYPES)} 之中", received)
    resolved_raw = _text(row, col["resolved"])
    if resolved_raw and resolved_raw not in RESOLVED:
        return BadRow(n, f"是否解决无法识别：应为 是/否/空，收到“{resolved_raw}”", received)
    satisfaction = _text(row, col["satisfaction"]) or None
    if satisfaction and satisfaction not in SATISFACTION:
        return BadRow(n, f"满意度无法识别：应为 {'/'.join(SATISFACTION)}/空，收到“{satisfaction}”", received)
    confirmation = _text(row, col.get("confirmation")) or None
    if confirmation and confirmation not in CONFIRMATION:
        return BadRow(n, f"行业确认无法识别：应为 {'/'.join(CONFIRMATION)}/空，收到“{confirmation}”", received)
    content = _text(row, col["content"])
    if not content:
        return BadRow(n, "诉求内容为空", received)
    return Ticket(
        row=n, ticket_id=ticket_id, received_at=received, content=content, type=kind, district=district,
        street=_text(row, col["street"]), caller=_text(row, col["caller"]), unit=_text(row, col["unit"]),
        responded_at=times["responded_at"], closed_at=times["closed_at"],
        resolved=RESOLVED.get(resolved_raw), satisfaction=satisfaction, confirmation=confirmation,
        filter_reason=_text(row, col.get("filter_reason")), subtopic=_text(row, col.get("subtopic")) or None,
        caller_name=_text(row, col.get("caller_name")),
    )
