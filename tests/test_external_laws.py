"""A client's own folder of real regulations (../shared/external), ingested as a new knowledge base."""

from __future__ import annotations

import shutil

import pytest

from ingest.pipeline import run_ingest
from kb.search import SearchRequest
from kb.service import KnowledgeService
from tests.conftest import EXTERNAL, make_settings

LAWS = EXTERNAL / "laws-civil-affairs"
PICK = {
    "national/婚姻登记条例(2003-08-08).md": ("婚姻登记条例", "marriage_reg"),
    "national/殡葬管理条例(2012-11-09).md": ("殡葬管理条例", "funeral_service"),
    "national/城市居民最低生活保障条例(1999-09-28).md": ("城市居民最低生活保障条例", "dibao"),
}


@pytest.fixture()
def laws_folder(tmp_path):
    if not LAWS.exists():
        pytest.skip("../shared/external/laws-civil-affairs is not present")
    folder = tmp_path / "laws"
    folder.mkdir()
    for rel in PICK:
        shutil.copy(LAWS / rel, folder / rel.split("/")[1])
    return folder


def test_real_regulations_get_titles_articles_and_inferred_topics(tmp_path, laws_folder):
    settings = make_settings(tmp_path / "data", kbs=["laws"])
    summary = run_ingest(settings, "laws", [laws_folder])
    assert summary.rejections == []
    assert summary.added == 3
    index = KnowledgeService(settings).index("laws")
    by_title = {c.title: c for c in index.chunks}
    for title, topic in PICK.values():
        assert topic in by_title[title].topics
    marriage = [c for c in index.chunks if c.title == "婚姻登记条例"]
    assert marriage[0].doc_no == "中华人民共和国国务院令第387号"
    assert [c.article for c in marriage][:3] == ["第一条", "第二条", "第三条"]
    hits = KnowledgeService(settings).search("laws", SearchRequest("结婚登记要带哪些证件", top_k=3, dedupe=False)).hits
    assert ("婚姻登记条例", "第五条") in [(h.chunk.title, h.chunk.article) for h in hits]
