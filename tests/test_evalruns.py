"""kb/evalruns.py without a service: the run table on a fresh SQLite file, comparison and publish history by hand."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine

from kb.errors import NotFound
from kb.evalruns import INTERRUPTED, EvalRunStore, compare, publish_history


@pytest.fixture()
def runs(tmp_path) -> EvalRunStore:
    return EvalRunStore(create_engine(f"sqlite:///{tmp_path / 'store.sqlite'}"))


def _item(qid: str, outcome: str, ok: bool) -> dict:
    return {"id": qid, "query": f"问题 {qid}", "outcome": outcome, "ok": ok}


def test_compare_lists_only_the_queries_whose_outcome_differs(runs):
    a = runs.create("minzheng", "retrieval", "dev", {}, "审核员", "v1")
    b = runs.create("minzheng", "retrieval", "dev", {"fusion": "rrf"}, "审核员", "v1")
    runs.finish(a, {"recall@5": 0.5, "mrr@10": 0.25, "queries": 3},
                [_item("q1", "第 1 位", True), _item("q2", "第 7 位", False), _item("q3", "前 10 未命中", False)], 3.0)
    runs.finish(b, {"recall@5": 0.75, "mrr@10": 0.2, "queries": 3},
                [_item("q1", "第 1 位", True), _item("q2", "第 2 位", True), _item("q3", "第 9 位", False)], 4.0)
    c = compare(runs.get(a), runs.get(b))
    assert c["figures"] == [{"name": "recall@5", "a": 0.5, "b": 0.75, "delta": 0.25},
                            {"name": "mrr@10", "a": 0.25, "b": 0.2, "delta": -0.05},
                            {"name": "queries", "a": 3, "b": 3, "delta": 0}]
    assert c["differing"] == [
        {"id": "q2", "query": "问题 q2", "a": {"outcome": "第 7 位", "ok": False}, "b": {"outcome": "第 2 位", "ok": True}},
        {"id": "q3", "query": "问题 q3", "a": {"outcome": "前 10 未命中", "ok": False},
         "b": {"outcome": "第 9 位", "ok": False}}]
    assert c["same"] == 1
    assert c["b"]["config"] == {"fusion": "rrf"} and c["b"]["seconds"] == 4.0


def test_list_is_newest_first_without_items_and_filters(runs):
    first = runs.create("minzheng", "retrieval", "dev", {}, "x", "")
    second = runs.create("minzheng", "reply", "test", {}, "x", "")
    other = runs.create("canlian", "retrieval", "dev", {}, "x", "")
    runs.finish(first, {"recall@5": 1.0}, [_item("q1", "第 1 位", True)], 1.0)
    assert [r.id for r in runs.list("minzheng")] == [second, first]
    assert [r.id for r in runs.list("minzheng", "retrieval")] == [first]
    assert [r.id for r in runs.list()] == [other, second, first]
    assert runs.list("minzheng", "retrieval")[0].items == []
    assert runs.get(first).items == [_item("q1", "第 1 位", True)]


def test_a_run_left_running_is_failed_at_start_up_and_unknown_ids_are_404(runs):
    left = runs.create("minzheng", "classify", "test", {}, "x", "")
    skipped = runs.create("minzheng", "laws", "dev", {}, "x", "")
    runs.fail(skipped, "未找到外部法规文本", 0.1, skipped=True)
    assert EvalRunStore(runs.engine).interrupt_running() == 1
    assert (runs.get(left).status, runs.get(left).error) == ("failed", INTERRUPTED)
    assert runs.get(skipped).summary()["status_name"] == "已跳过"
    with pytest.raises(NotFound, match="评测记录“nosuch”不存在"):
        runs.get("nosuch")


def test_publish_history_keeps_publishes_with_gold_figures_oldest_first():
    e = lambda time, action, details: SimpleNamespace(time=time, action=action, details=details)  # noqa: E731
    entries = [
        e("2026-12-02T03:00:00Z", "publish", {"version": "v2", "gold": {"recall_at_5": 0.9, "mrr_at_10": 0.8, "n": 30}}),
        e("2026-12-01T03:00:00Z", "publish", {"version": "v1", "gold": {"recall_at_5": 0.85, "mrr_at_10": 0.7, "n": 30}}),
        e("2026-12-01T04:00:00Z", "update", {"gold": {"recall_at_5": 0.1}}),
        e("2026-12-01T05:00:00Z", "publish", {"version": "v1b"}),
    ]
    assert publish_history(entries) == [
        {"time": "2026-12-01T03:00:00Z", "version": "v1", "figures": {"recall_at_5": 0.85, "mrr_at_10": 0.7, "n": 30}},
        {"time": "2026-12-02T03:00:00Z", "version": "v2", "figures": {"recall_at_5": 0.9, "mrr_at_10": 0.8, "n": 30}}]
