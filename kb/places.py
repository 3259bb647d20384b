"""Beijing districts and streets, recognised in requests and questions.

Callers say 朝阳 or 我在东四街道; the directory says 朝阳区 and 东四街道. The 16
districts are fixed; streets come from the contact directory, so a client that
adds a district's streets to its directory gets them recognised without code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.errors import InvalidQuery

DISTRICTS: tuple[str, ...] = (
    "东城区", "西城区", "朝阳区", "丰台区", "石景山区", "海淀区", "门头沟区", "房山区",
    "通州区", "顺义区", "昌平区", "大兴区", "怀柔区", "平谷区", "密云区", "延庆区",
)
_SHORT = {d[:-1]: d for d in DISTRICTS}


def canonical_district(value: str | None) -> str | None:
    """朝阳 / 朝阳区 / 北京市朝阳区 → 朝阳区; unknown names are refused with the valid list."""
    if value is None or not value.strip():
        return None
    v = value.strip().removeprefix("北京市").removeprefix("北京")
    if v in DISTRICTS:
        return v
    if v in _SHORT:
        return _SHORT[v]
    raise InvalidQuery(f"无法识别的区：“{value}”。可选：{'、'.join(DISTRICTS)}")


@dataclass
class PlaceResolver:
    streets: dict[str, str] = field(default_factory=dict)  # street → district

    def add_street(self, street: str, district: str) -> None:
        self.streets[street] = district
        if street.endswith(("街道", "地区")) and len(street) > 3:
            self.streets.setdefault(street[:-2], district)

    def find(self, text: str) -> tuple[str | None, str | None]:
        """(district, street) mentioned in free text; the longest street name wins."""
        street_hit = None
        for name in sorted(self.streets, key=len, reverse=True):
            if name in text:
                street_hit = name
                break
        district = None
        for d in DISTRICTS:
            if d in text:
                district = d
                break
        if district is None:
            for short, full in _SHORT.items():
                if short in text and len(short) >= 2:
                    district = full
                    break
        if street_hit:
            street_district = self.streets[street_hit]
            if district in (None, street_district):
                full = street_hit if street_hit.endswith(("街道", "地区", "镇", "乡")) else street_hit + "街道"
                return street_district, full if full in self.streets else street_hit
        return district, None
