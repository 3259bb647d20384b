"""A policy's state on a given day: 有效, 未生效 (effective later), 已修订 / 已废止 (or expired).

Dates are Beijing dates (Asia/Shanghai) while the machines run on UTC; ``KB_TODAY``
fixes "today" so tests and demonstrations are deterministic.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
PENDING = "未生效"
EXPIRED = "已废止"


def beijing_today(fixed: dt.date | None = None) -> dt.date:
    return fixed or dt.datetime.now(BEIJING).date()


def status_on(status: str, effective: str, expires: str, today: dt.date) -> str:
    """The status an agent must see today; a recorded 已修订/已废止 always wins."""
    if status in ("已修订", "已废止"):
        return status
    day = today.isoformat()
    if expires and expires <= day:
        return EXPIRED
    if effective and effective > day:
        return PENDING
    return status
