"""GET /v1/places: the districts and streets an agent can pick, from the contact directory."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ServiceDep
from kb.places import DISTRICTS
from kb.textnorm import normalize

router = APIRouter()


class District(BaseModel):
    name: str
    streets: list[str]


class PlacesResponse(BaseModel):
    kb: str
    districts: list[District]
    detected_district: str | None = None
    detected_street: str | None = None


@router.get("/v1/places", response_model=PlacesResponse)
def places(service: ServiceDep, kb: str = "minzheng", text: str | None = None) -> dict:
    """All 16 districts in the official order with the streets the directory knows; with ``text``,
    also the district and street that text names (the same detection the reply uses)."""
    directory = service.contacts(kb)
    streets: dict[str, set[str]] = {d: set() for d in DISTRICTS}
    for c in directory.contacts:
        if c.street and c.districts and c.districts[0] in streets:
            streets[c.districts[0]].add(c.street)
    out: dict = {"kb": kb, "districts": [{"name": d, "streets": sorted(s)} for d, s in streets.items()]}
    if text:
        out["detected_district"], out["detected_street"] = directory.places.find(normalize(text[:500]))
    return out
