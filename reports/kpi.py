"""The contract figures: 响应率, 解决率, 满意率, and ticket volumes.

Definitions follow corpus/reports/kpi.yaml so that anyone can recompute a figure by
hand from the export: each rate keeps its numerator and denominator, stays an
unrounded fraction, and is null when nothing was eligible (0/0 is not 100%).
Tickets marked 剔除 count in the volumes but not in the rates.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from reports.columns import Ticket

RATE_NAMES = {"response_rate": "响应率", "resolution_rate": "解决率", "satisfaction_rate": "满意率"}


@dataclass(frozen=True)
class KpiConfig:
    response_limit_hours: float = 24
    thresholds: dict[str, float] = field(default_factory=lambda: {
        "response_rate": 1.0, "resolution_rate": 0.9, "satisfaction_rate": 0.95})
    overdue_days: int = 14
    repeat_caller_min: int = 3
    place_complaints_min: int = 3
    hotspot: dict = field(default_factory=dict)
    max_listed: int = 50

    @classmethod
    def load(cls, path: Path, kb: str) -> KpiConfig:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        merged = dict(data.get("defaults", {}))
        for key, value in ((data.get("kbs") or {}).get(kb) or {}).items():
            merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
        return cls(**merged)


@dataclass(frozen=True)
class Rate:
    key: str
    numerator: int
    denominator: int
    threshold: float
    offenders: list[str]

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def below(self) -> bool:
        return self.value is not None and self.value < self.threshold

    def to_json(self) -> dict:
        return {"name": RATE_NAMES[self.key], "value": self.value, "numerator": self.numerator,
                "denominator": self.denominator, "threshold": self.threshold, "below_threshold": self.below}


def responded_in_time(t: Ticket, limit: timedelta) -> bool:
    return t.responded_at is not None and t.responded_at <= t.received_at + limit


def rates(tickets: list[Ticket], cfg: KpiConfig) -> dict[str, Rate]:
    counted = [t for t in tickets if not t.filtered]
    limit = timedelta(hours=cfg.response_limit_hours)
    late = [t.ticket_id for t in counted if not responded_in_time(t, limit)]
    judged = [t for t in counted if t.resolved is not None]
    rated = [t for t in counted if t.satisfaction is not None]
    th = cfg.thresholds
    return {
        "response_rate": Rate("response_rate", len(counted) - len(late), len(counted), th["response_rate"], late),
        "resolution_rate": Rate("resolution_rate", sum(t.resolved is True for t in judged), len(judged),
                                th["resolution_rate"], [t.ticket_id for t in judged if t.resolved is False]),
        "satisfaction_rate": Rate("satisfaction_rate", sum(t.satisfaction != "不满意" for t in rated), len(rated),
                                  th["satisfaction_rate"], [t.ticket_id for t in rated if t.satisfaction == "不满意"]),
    }


def flags(computed: dict[str, Rate]) -> list[dict]:
    """One flag per rate below its contract threshold, with the tickets that pulled it down."""
    return [{"kpi": r.key, "name": RATE_NAMES[r.key], "value": r.value, "threshold": r.threshold,
             "tickets": r.offenders} for r in computed.values() if r.below]


def counts(values) -> dict[str, int]:
    """Counts, largest first, ties by name, so two runs print identical tables."""
    return dict(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0])))


def by_street(tickets: list[Ticket]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for district in counts(t.district for t in tickets):
        out[district] = counts(t.street or "（未填写）" for t in tickets if t.district == district)
    return out


def change(now: int, before: int | None) -> float | None:
    """Relative change; null when there is no earlier figure or it was zero."""
    if before is None or before == 0:
        return None
    return (now - before) / before
