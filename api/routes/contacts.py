"""GET /v1/contacts: the offices for a district, street or topic."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import ServiceDep
from api.schemas import ERRORS, ContactsResponse
from api.validation import KB_NAME_PATTERN, shorten
from kb.errors import InvalidQuery

router = APIRouter()


@router.get("/v1/contacts", response_model=ContactsResponse, responses=ERRORS)
def contacts(
    service: ServiceDep,
    kb: str = Query(default="minzheng", max_length=64, pattern=KB_NAME_PATTERN),
    district: str | None = Query(default=None, max_length=200),
    street: str | None = Query(default=None, max_length=200),
    topic: str | None = Query(default=None, max_length=200, description="主题或子主题代码"),
) -> dict:
    directory = service.contacts(kb)
    if topic and not service.taxonomy.expand(topic):
        raise InvalidQuery(f"未知的主题代码“{shorten(topic)}”，请使用 taxonomy.yaml 中的主题或子主题代码")
    found = directory.lookup(district=district, street=street, topic=topic)
    items = [
        {
            "id": c.id,
            "unit": c.extra.get("unit", c.title),
            "level": c.extra.get("level", ""),
            "district": c.districts[0] if c.districts else None,
            "street": c.street or None,
            "phone": c.extra.get("phone", ""),
            "address": c.extra.get("address", ""),
            "hours": c.extra.get("hours", ""),
            "duties": c.extra.get("duties", ""),
            "topics": c.topics,
        }
        for c in found
    ]
    return {"kb": kb, "count": len(items), "contacts": items}
