"""Report periods (日报 … 年报, 专报) as Beijing calendar dates.

A ticket belongs to the period of its Beijing date: 2026-03-31 23:30 +08 is March even
though the machine's UTC clock already says April. Weeks run Monday to Sunday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from kb.errors import InvalidQuery
from reports.columns import BEIJING

KINDS = {"day": "日报", "week": "周报", "month": "月报", "quarter": "季报", "half": "半年报", "year": "年报",
         "special": "专报"}


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date  # inclusive
    title: str = ""

    @property
    def name(self) -> str:
        return KINDS[self.kind]

    @property
    def label(self) -> str:
        s, e = self.start, self.end
        if self.kind == "day":
            return f"{s.year}年{s.month}月{s.day}日"
        if self.kind == "month":
            return f"{s.year}年{s.month}月"
        if self.kind == "quarter":
            return f"{s.year}年第{(s.month - 1) // 3 + 1}季度"
        if self.kind == "half":
            return f"{s.year}年{'上' if s.month == 1 else '下'}半年"
        if self.kind == "year":
            return f"{s.year}年"
        return f"{s.year}年{s.month}月{s.day}日至{e.year}年{e.month}月{e.day}日"

    @property
    def end_instant(self) -> datetime:
        """The first Beijing instant after the period."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=BEIJING)

    def contains(self, d: date) -> bool:
        return self.start <= d <= self.end

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "label": self.label, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "title": self.title}


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def period_for(kind: str, d: date) -> Period:
    if kind == "day":
        return Period(kind, d, d)
    if kind == "week":
        start = d - timedelta(days=d.weekday())
        return Period(kind, start, start + timedelta(days=6))
    if kind in ("month", "quarter", "half", "year"):
        months = {"month": 1, "quarter": 3, "half": 6, "year": 12}[kind]
        first = (d.month - 1) // months * months + 1
        last = first + months - 1
        return Period(kind, date(d.year, first, 1), _month_end(d.year, last))
    raise InvalidQuery(f"未知的报告周期“{kind}”，可选：{'、'.join(f'{k}（{v}）' for k, v in KINDS.items())}")


def special(start: date, end: date, title: str) -> Period:
    if end < start:
        raise InvalidQuery(f"专报的结束日期 {end} 早于开始日期 {start}")
    if not title.strip():
        raise InvalidQuery("专报需要标题（--title）")
    return Period("special", start, end, title.strip())


def previous(period: Period) -> Period:
    if period.kind == "special":
        length = period.end - period.start + timedelta(days=1)
        return Period("special", period.start - length, period.start - timedelta(days=1), period.title)
    return period_for(period.kind, period.start - timedelta(days=1))


def year_ago(period: Period) -> Period:
    def back(d: date) -> date:
        try:
            return d.replace(year=d.year - 1)
        except ValueError:  # 29 February
            return d.replace(year=d.year - 1, day=28)

    if period.kind in ("day", "special"):
        return Period(period.kind, back(period.start), back(period.end), period.title)
    if period.kind == "week":
        return period_for("week", period.start - timedelta(weeks=52))
    return period_for(period.kind, back(period.start))


def last_complete(kind: str, last_day: date) -> Period:
    """The last period that the data covers to its end (the file's last day closes it, or a later one)."""
    p = period_for(kind, last_day)
    return p if p.end == last_day else previous(p)


def parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidQuery(f"{option} 应为 YYYY-MM-DD 格式的日期，收到“{value}”") from None
