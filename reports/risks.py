"""风险预警: urgent signals, repeated callers, tickets left open, complaints piling up on one place.

Callers are shown by a keyed pseudonym (HMAC-SHA256 of the digits), never by their
number: the same caller gets the same pseudonym in every report signed with the same
key, so handlers can follow a caller across reports without the number leaving the
export. The key lives in KB_DATA_DIR (or KB_REPORT_KEY_FILE), created on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from kb.classify.risk import RiskDetector
from reports.columns import Ticket

_PLACE = re.compile(r"([\u4e00-\u9fa5A-Za-z0-9]{2,12}(?:小区|社区|养老院|养老驿站|驿站|敬老院|福利院|照料中心|养老中心|"
                    r"殡仪馆|公墓|陵园|婚姻登记处|服务中心|家园|花园|公寓|大厦|市场|村))")
_PLACE_PREFIX = re.compile(r"^.*?(?:反映|投诉|举报|咨询|住在|在|住|于|的|是|到|去|对|称|说)")


def load_key(path: Path) -> bytes:
    """The pseudonym key; created (owner-only) when missing so a fresh deployment just works."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def pseudonym(number: str, key: bytes) -> str:
    digits = re.sub(r"\D", "", number)
    return "来电人-" + hmac.new(key, digits.encode(), hashlib.sha256).hexdigest()[:8].upper()


def _brief(t: Ticket) -> dict:
    return {"ticket_id": t.ticket_id, "row": t.row, "received_at": t.received_at.isoformat(), "type": t.type,
            "district": t.district, "street": t.street, "summary": t.masked_content[:80]}


def repeat_callers(tickets: list[Ticket], key: bytes, minimum: int) -> list[dict]:
    by_caller: dict[str, list[Ticket]] = defaultdict(list)
    for t in tickets:
        digits = re.sub(r"\D", "", t.caller)
        if len(digits) >= 7:
            by_caller[digits].append(t)
    out = [{"caller": pseudonym(d, key), "count": len(ts), "districts": sorted({t.district for t in ts}),
            "ticket_ids": [t.ticket_id for t in ts], "example": ts[0].masked_content[:80]}
           for d, ts in by_caller.items() if len(ts) >= minimum]
    return sorted(out, key=lambda x: (-x["count"], x["caller"]))


def overdue(tickets: list[Ticket], period_end: datetime, days: int) -> list[dict]:
    """Tickets received before the period's end and still open at it for more than ``days`` days."""
    out = []
    for t in tickets:
        if t.received_at >= period_end or (t.closed_at is not None and t.closed_at < period_end):
            continue
        open_days = (period_end - t.received_at).total_seconds() / 86400
        if open_days > days:
            out.append({**_brief(t), "open_days": int(open_days), "unit": t.unit})
    return sorted(out, key=lambda x: (-x["open_days"], x["ticket_id"]))


def urgent(tickets: list[Ticket], detector: RiskDetector) -> tuple[list[dict], int]:
    """Urgent tickets with their signals, and the number of tickets that only need attention."""
    out, attention = [], 0
    for t in tickets:
        finding = detector.detect(t.content)
        if finding.level == "urgent":
            out.append({**_brief(t), "signals": [s["name"] for s in finding.signals if s["level"] == "urgent"]})
        elif finding.level == "attention":
            attention += 1
    return out, attention


def place_of(text: str) -> str | None:
    m = _PLACE.search(text)
    if not m:
        return None
    place = m.group(1)
    while (shorter := _PLACE_PREFIX.sub("", place, count=1)) != place and _PLACE.fullmatch(shorter) and len(shorter) >= 4:
        place = shorter  # drop leading 反映/住在/的 … as long as what is left is still a place name
    return place


def place_clusters(tickets: list[Ticket], minimum: int) -> list[dict]:
    """Several 投诉/举报 naming the same place in one street."""
    groups: dict[tuple[str, str, str], list[Ticket]] = defaultdict(list)
    for t in tickets:
        if t.type not in ("投诉", "举报"):
            continue
        place = place_of(t.content)
        if place:
            groups[(t.district, t.street, place)].append(t)
    out = [{"district": d, "street": s, "place": p, "count": len(ts), "ticket_ids": [t.ticket_id for t in ts],
            "example": ts[0].masked_content[:80]} for (d, s, p), ts in groups.items() if len(ts) >= minimum]
    return sorted(out, key=lambda x: (-x["count"], x["district"], x["street"], x["place"]))
