"""The evaluation API (/v1/eval/…) over the real sample index: roles, bad configs, one run per kb at a time,
figures identical to what ``kb eval retrieval`` writes, comparison, history, and runs surviving a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.evalruns import INTERRUPTED, EvalRunStore
from kb.index import IndexLayout, read_manifest
from kb.settings import PROJECT_ROOT
from kb.storefactory import open_store
from tests.conftest import api_client, key_for

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).parent / "screenshots"
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def _as(client, settings, role: str) -> dict:
    return {"Authorization": f"Bearer {key_for(settings, f'test-{role}', role)}"}


def _wait(client, run_id: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/v1/eval/runs/{run_id}").json()
        if body["status"] != "running":
            return body
        assert time.monotonic() < deadline, f"run {run_id} still running"
        time.sleep(0.2)  # a run takes tens of seconds; a short poll stops waiting soon after it ends


def _cli_report(settings, tmp_path) -> dict:
    """``kb eval retrieval --kb canlian --out`` in its own process, over the same data as the service."""
    out = tmp_path / "cli.json"
    env = {**os.environ, "KB_DATA_DIR": str(settings.data_dir), "KB_EMBED_CACHE": str(settings.embed_cache),
           "KB_CORPUS_DIR": str(settings.corpus_dir), "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-m", "cli.main", "eval", "retrieval", "--kb", "canlian", "--out", str(out)],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reviewer(sample_settings):
    with api_client(sample_settings, "reviewer") as c:
        yield c


@pytest.mark.parametrize(("role", "method", "path", "status"), [
    ("agent", "post", "/v1/eval/runs", 403),
    ("agent", "get", "/v1/eval/runs", 403),
    ("agent", "get", "/v1/eval/history", 403),
    ("manager", "post", "/v1/eval/runs", 403),
    ("manager", "get", "/v1/eval/runs", 200),
    ("manager", "get", "/v1/eval/history", 200),
])
def test_roles(reviewer, sample_settings, role, method, path, status):
    kwargs = {"json": {"suite": "retrieval", "kb": "canlian"}} if method == "post" else {}
    r = getattr(reviewer, method)(path, headers=_as(reviewer, sample_settings, role), **kwargs)
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["detail"].startswith(f"当前身份“test-{role}”")


def test_no_key_is_401(reviewer):
    r = reviewer.get("/v1/eval/runs", headers={"Authorization": ""})
    assert r.status_code == 401


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"suite": "retrieval", "config": {"fusion": "max"}}, 422, "config.fusion：融合方式“max”无效，可选：rrf、weighted"),
    ({"suite": "retrieval", "config": {"weights": {"dense": -1}}}, 422, "config.weights.dense：数值过小"),
    ({"suite": "retrieval", "config": {"weights": {"dense": 0, "bm25": 0}}}, 422,
     "config.weights：dense 与 bm25 权重不能同时为 0"),
    ({"suite": "retrieval", "config": {"boost": 2}}, 422, "config.boost：不支持的字段"),
    ({"suite": "reply", "config": {"gates": {"min_cosine": 1.5}}}, 422, "config.gates.min_cosine：数值过大"),
    ({"suite": "retrieval", "config": {"gates": {"min_cosine": 0.9}}}, 422, "请求体：config.gates 只适用于答复评测（reply）"),
    ({"suite": "classify", "config": {"fusion": "rrf"}}, 422, "请求体：工单分类评测不使用检索或答复配置，请去掉 config"),
    ({"suite": "retrieval", "split": "test"}, 422, "请求体：检索金标只有 dev 划分（eval/data/retrieval_dev.jsonl）"),
    ({"suite": "speed"}, 422, "suite：内容无效"),
    ({"suite": "retrieval", "kb": "nosuch"}, 404, "未知的知识库“nosuch”，可选：minzheng、canlian"),
])
def test_bad_requests_name_the_field(reviewer, body, status, detail):
    r = reviewer.post("/v1/eval/runs", json=body)
    assert r.status_code == status, r.text
    assert r.json()["detail"] == detail


def test_unknown_run_is_404(reviewer):
    r = reviewer.get("/v1/eval/runs/nosuchrun")
    assert r.status_code == 404
    assert r.json()["detail"] == "评测记录“nosuchrun”不存在"


def test_runs_match_kb_eval_and_compare_and_history(reviewer, sample_settings, tmp_path):
    started = time.perf_counter()
    r = reviewer.post("/v1/eval/runs", json={"kb": "canlian", "suite": "retrieval"})
    assert r.status_code == 202, r.text
    a_id = r.json()["run_id"]
    second = reviewer.post("/v1/eval/runs", json={"kb": "canlian", "suite": "retrieval", "config": {"fusion": "rrf"}})
    assert second.status_code == 409
    assert second.json()["detail"] == f"知识库“canlian”已有一次评测在运行（{a_id}），请等它完成后再运行"
    running = reviewer.get(f"/v1/eval/runs/{a_id}").json()
    assert running["status"] == "running" and running["status_name"] == "运行中"
    # the CLI meanwhile, beside the running service like an operator would
    cli = _cli_report(sample_settings, tmp_path)
    a = _wait(reviewer, a_id)
    a_seconds = time.perf_counter() - started
    assert a["status"] == "done", a["error"]
    default = cli["variants"]["hybrid+synonyms+library mix (weighted, default)"]
    assert {m: a["figures"][m] for m in METRICS} == {m: default[m] for m in METRICS}
    assert a["figures"]["queries"] == cli["queries"] == 49
    assert len(a["items"]) == 49
    misses = {f["id"] for f in default["failures"]}
    assert {i["id"] for i in a["items"] if not i["ok"]} == misses

    r = reviewer.post("/v1/eval/runs", json={"kb": "canlian", "suite": "retrieval", "config": {"fusion": "rrf"}})
    assert r.status_code == 202, r.text
    b = _wait(reviewer, r.json()["run_id"])
    assert b["status"] == "done", b["error"]
    assert b["config"] == {"fusion": "rrf"}
    rrf = cli["variants"]["hybrid+synonyms+library mix (rrf)"]
    assert {m: b["figures"][m] for m in METRICS} == {m: rrf[m] for m in METRICS}

    cmp = reviewer.get("/v1/eval/compare", params={"a": a["run_id"], "b": b["run_id"]}).json()
    rows = {f["name"]: f for f in cmp["figures"]}
    for m in METRICS:
        assert rows[m]["a"] == default[m] and rows[m]["b"] == rrf[m]
        assert rows[m]["delta"] == round(rrf[m] - default[m], 4)
    b_items = {i["id"]: i for i in b["items"]}
    expected = [i["id"] for i in a["items"] if i["outcome"] != b_items[i["id"]]["outcome"]]
    assert [d["id"] for d in cmp["differing"]] == expected
    assert cmp["same"] == 49 - len(expected)
    for d in cmp["differing"]:
        assert d["a"]["outcome"] != d["b"]["outcome"]

    hist = reviewer.get("/v1/eval/history", params={"kb": "canlian", "suite": "retrieval"}).json()
    assert [p["run_id"] for p in hist["runs"]][-2:] == [a["run_id"], b["run_id"]]
    layout = IndexLayout(sample_settings.data_dir, "canlian")
    gold = read_manifest(layout, layout.current())["gold"]
    assert hist["publishes"][-1]["version"] == layout.current()
    assert hist["publishes"][-1]["figures"] == {"recall_at_5": gold["recall_at_5"], "mrr_at_10": gold["mrr_at_10"],
                                                "n": gold["n"]}
    listed = reviewer.get("/v1/eval/runs", params={"kb": "canlian"}).json()["runs"]
    assert [r["run_id"] for r in listed][:2] == [b["run_id"], a["run_id"]]
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / "eval_api_timings.json").write_text(json.dumps(
        {"retrieval_run_canlian_with_cli_beside_s": round(a_seconds, 1), "retrieval_run_canlian_rrf_s": b["seconds"]}),
        encoding="utf-8")


def test_compare_refuses_different_suites_and_unfinished_runs(reviewer, sample_settings):
    runs = EvalRunStore(open_store(sample_settings).engine)
    x = runs.create("minzheng", "retrieval", "dev", {}, "t", "")
    runs.finish(x, {"recall@5": 0.5}, [], 1.0)
    y = runs.create("minzheng", "reply", "dev", {}, "t", "")
    runs.finish(y, {"citation_recall": 0.5}, [], 1.0)
    z = runs.create("minzheng", "retrieval", "dev", {}, "t", "")
    runs.fail(z, "评测失败：x", 1.0)
    r = reviewer.get("/v1/eval/compare", params={"a": x, "b": y})
    assert r.status_code == 422
    assert r.json()["detail"] == "只能对比同一套件与划分的两次评测：a 为 retrieval/dev，b 为 reply/dev"
    r = reviewer.get("/v1/eval/compare", params={"a": x, "b": z})
    assert r.status_code == 422
    assert r.json()["detail"] == f"b：评测 {z} 尚未完成（失败），无法对比"


def test_runs_survive_a_restart_and_a_run_cut_short_is_marked_failed(sample_settings):
    runs = EvalRunStore(open_store(sample_settings).engine)
    done = runs.create("minzheng", "retrieval", "dev", {"fusion": "rrf"}, "t", "v1")
    runs.finish(done, {"recall@5": 0.75}, [{"id": "q1", "query": "低保", "outcome": "第 1 位", "ok": True}], 2.5)
    cut = runs.create("minzheng", "retrieval", "dev", {}, "t", "v1")
    with api_client(sample_settings, "manager") as c:
        kept = c.get(f"/v1/eval/runs/{done}").json()
        assert (kept["status"], kept["figures"], kept["seconds"], kept["config"]) == ("done", {"recall@5": 0.75}, 2.5,
                                                                                     {"fusion": "rrf"})
        assert kept["items"] == [{"id": "q1", "query": "低保", "outcome": "第 1 位", "ok": True}]
        failed = c.get(f"/v1/eval/runs/{cut}").json()
        assert (failed["status"], failed["error"]) == ("failed", INTERRUPTED)


def test_the_pages_reply_test_is_the_split_nobody_tuned_on(sample_settings):
    """"test" on the reviewer's page runs the held-out reply split (replies_test3), not the older one that was read
    while the system changed."""
    import json

    from eval.job import _reply
    from eval.reply import HELD_OUT, SPLITS

    held = [json.loads(line) for line in SPLITS[HELD_OUT].read_text(encoding="utf-8").splitlines() if line.strip()]
    result = _reply(sample_settings, "test", "canlian", {}, lambda done, total: None)
    assert [i["id"] for i in result["items"]] == [h["id"] for h in held if h["kb"] == "canlian"]
    assert result["figures"]["items"] == 60
