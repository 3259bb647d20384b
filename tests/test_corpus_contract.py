"""The sample libraries keep the coverage the product promises (counts are the issue's minimums)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
import yaml

from kb.classify.tickets import load_tickets, split_files
from kb.settings import PROJECT_ROOT
from kb.structure import parse_document
from kb.taxonomy import load_taxonomy
from tests.conftest import EXTERNAL

CORPUS = PROJECT_ROOT / "corpus"
TAXONOMY = load_taxonomy(CORPUS / "taxonomy.yaml")


def _answers(kb: str) -> list[dict]:
    return [a for p in sorted((CORPUS / kb / "answers").glob("*.yaml")) for a in yaml.safe_load(p.read_text(encoding="utf-8"))]


def _policies(kb: str) -> list[dict]:
    return [parse_document(p.read_text(encoding="utf-8")).front_matter for p in sorted((CORPUS / kb / "policies").glob("*.md"))]


def _contacts(kb: str) -> list[dict]:
    with open(CORPUS / kb / "contacts.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_taxonomy_copy_keeps_every_shared_code():
    shared = PROJECT_ROOT.parent / "shared" / "taxonomy.yaml"
    if not shared.exists():
        pytest.skip("../shared is not present")
    theirs = load_taxonomy(shared)
    assert set(theirs.subtopics) <= set(TAXONOMY.subtopics)
    assert set(theirs.departments) <= set(TAXONOMY.departments)


@pytest.mark.parametrize(("kb", "policies", "answers", "per_subtopic"), [("minzheng", 35, 200, 4), ("canlian", 10, 60, 4)])
def test_libraries_cover_every_subtopic(kb, policies, answers, per_subtopic):
    pols = _policies(kb)
    ans = _answers(kb)
    assert len(pols) >= policies and len(ans) >= answers
    counts = Counter(t for a in ans for t in a["topics"])
    governed = {t for p in pols if p["status"] == "有效" for t in p["topics"]}
    for code in TAXONOMY.subtopics_of(kb):
        assert counts[code] >= per_subtopic, code
        assert code in governed, code
    assert sum(p["status"] != "有效" for p in pols) >= (3 if kb == "minzheng" else 1)
    assert all(len(a["variants"]) >= 2 for a in ans)


def test_contact_directories_cover_districts_and_streets():
    from kb.places import DISTRICTS

    mz, cl = _contacts("minzheng"), _contacts("canlian")
    for rows in (mz, cl):
        assert {r["district"] for r in rows if r["level"] == "区"} == set(DISTRICTS)
    units = " ".join(r["unit"] for r in mz)
    assert all(f"{d}婚姻登记处" in units for d in DISTRICTS)
    assert "殡仪馆" in units and "救助管理站" in units
    streets = {r["street"] for r in mz if r["level"] == "街乡镇"}
    divisions = EXTERNAL / "beijing-divisions" / "beijing_townships.csv"
    if divisions.exists():
        with open(divisions, encoding="utf-8") as fh:
            official = {r["township_name"] for r in csv.DictReader(fh) if r["district_name"] in ("东城区", "西城区")}
        assert official <= streets
    assert len(streets) >= 32
    assert all(r["phone"] == "12345" or r["phone"].startswith("010-0") for r in mz + cl)


def test_labelled_tickets_meet_the_minimums_and_splits_do_not_overlap():
    eval_dir = PROJECT_ROOT / "eval" / "data"
    splits = {s: load_tickets(split_files(CORPUS, eval_dir, s), TAXONOMY) for s in ("train", "dev", "test")}
    everything = [t for ts in splits.values() for t in ts]
    assert len(everything) >= 800
    by_label = Counter(t.subtopic or t.department for t in everything)
    assert all(by_label[c] >= 8 for c in TAXONOMY.subtopics)
    assert all(by_label[d] >= 15 for d in TAXONOMY.departments)
    assert sum(t.industry == "none" for t in everything) >= len(everything) / 4
    assert sum(bool(t.pair) for t in everything) >= 100
    ids = [t.id for t in everything]
    texts = [t.text for t in everything]
    assert len(ids) == len(set(ids)) and len(texts) == len(set(texts))


def test_followup_rules_use_known_codes():
    rules = yaml.safe_load((CORPUS / "followups.yaml").read_text(encoding="utf-8"))
    for key in rules:
        assert key in TAXONOMY.subtopics or key in TAXONOMY.topics or key in TAXONOMY.industries, key


def test_sample_numbers_are_visibly_fictitious():
    import re

    for path in list(CORPUS.rglob("*.md")) + list(CORPUS.rglob("*.yaml")) + list(CORPUS.rglob("*.csv")):
        for number in re.findall(r"010-\d{4}-\d{4}", Path(path).read_text(encoding="utf-8")):
            assert number.startswith("010-0"), (path, number)
