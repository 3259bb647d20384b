"""The contact directory (政务联络库) as a lookup: district, street, topic → offices.

Agents need the office for the caller's own street first, then the district,
then the citywide unit; this ordering is the directory's contract.
"""

from __future__ import annotations

from kb.places import PlaceResolver, canonical_district
from kb.records import Chunk
from kb.taxonomy import Taxonomy

_LEVEL_ORDER = {"街乡镇": 0, "区": 1, "市": 2}


class ContactDirectory:
    def __init__(self, chunks: list[Chunk], taxonomy: Taxonomy) -> None:
        self.contacts = [c for c in chunks if c.library == "contact"]
        self.taxonomy = taxonomy
        self.places = PlaceResolver()
        for c in self.contacts:
            if c.street and c.districts:
                self.places.add_street(c.street, c.districts[0])

    def lookup(self, district: str | None = None, street: str | None = None, topic: str | None = None) -> list[Chunk]:
        """Offices of exactly the level asked for: a street's own offices, a district's district-level
        offices, or (neither given) every office, street level first. Fallbacks are the caller's choice."""
        district = canonical_district(district)
        wanted = set(self.taxonomy.expand(topic)) if topic else None
        out = []
        for c in self.contacts:
            if wanted is not None and not wanted & set(c.topics):
                continue
            level = c.extra.get("level", "")
            if street:
                if c.street.removesuffix("街道") != street.removesuffix("街道"):
                    continue
                if district and c.districts and c.districts[0] != district:
                    continue
            elif district and (level != "区" or not c.districts or c.districts[0] != district):
                continue
            out.append(c)
        return sorted(out, key=lambda c: (_LEVEL_ORDER.get(c.extra.get("level", ""), 3), c.id))
