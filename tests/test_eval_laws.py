"""`kb eval laws`: real regulations ingested as a client would, scored by document AND article."""

from __future__ import annotations

import json
import shutil

import pytest

from eval.laws import LAWS, article_number, run_laws_eval
from tests.conftest import make_settings


def test_article_numbers_in_chinese_numerals():
    assert [article_number(a) for a in ("第一条", "第十条", "第十三条", "第二十条", "第一百零五条", "第三十二条之一")] == [
        1, 10, 13, 20, 105, 32]
    assert article_number("附则") is None


def test_laws_eval_scores_document_and_article_per_split(tmp_path):
    if not LAWS.exists():
        pytest.skip("../shared/external/laws-civil-affairs is not present")
    laws = tmp_path / "laws"
    (laws / "national").mkdir(parents=True)
    (laws / "beijing").mkdir()
    for name in ("婚姻登记条例(2003-08-08).md", "殡葬管理条例(2012-11-09).md"):
        shutil.copy(LAWS / "national" / name, laws / "national" / name)
    questions = [
        {"qid": "t1", "question": "去办结婚登记要带哪些证件和证明材料", "doc": "婚姻登记条例(2003-08-08)", "article": "第五条",
         "split": "dev"},
        {"qid": "t2", "question": "哪些地方不准建坟墓", "doc": "殡葬管理条例(2012-11-09)", "article": "第十条", "split": "test"},
        {"qid": "t3", "question": "低保标准怎么定", "doc": "城市居民最低生活保障条例(1999-09-28)", "article": "第六条",
         "split": "test"},
    ]
    data = tmp_path / "q.jsonl"
    data.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    report = run_laws_eval(make_settings(tmp_path / "data"), data, laws)
    assert report["documents_ingested"] == 2 and report["rejected"] == []
    assert report["splits"]["dev"] == {"n": 1, "hit@1": 1.0, "hit@5": 1.0, "doc@5": 1.0, "adjacent_top1": 0,
                                       "doc_not_indexed": 0}
    test = report["splits"]["test"]
    assert (test["n"], test["hit@5"], test["doc_not_indexed"]) == (2, 0.5, 1)
    assert [m["qid"] for m in report["misses"]] == ["t3"]
