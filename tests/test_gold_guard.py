"""Every publish re-runs the kb's gold questions; the guard refuses a change that breaks them."""

from __future__ import annotations

import json
import shutil

import pytest

from ingest.pipeline import run_ingest
from kb.errors import GuardRefused
from kb.settings import PROJECT_ROOT
from tests.conftest import api_client

GOLD = [{"query": "高龄津贴去哪里申请", "relevant": ["t-ans-allowance-002"]},
        {"query": "老人补贴找谁申请", "relevant": ["t-ans-allowance-002"]}]


@pytest.fixture()
def guarded(mini_settings, mini_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus, ignore=shutil.ignore_patterns("minzheng", "canlian", "tickets"))
    (corpus / "mini").mkdir()
    (corpus / "mini" / "gold.jsonl").write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in GOLD),
                                                encoding="utf-8")
    settings = mini_settings.model_copy(update={"corpus_dir": corpus, "store_sync_seconds": 0.0, "guard_recall_drop": 10.0})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "manager") as client:
        yield settings, client


def test_publish_records_gold_figures_and_the_guard_refuses_a_breaking_edit(guarded):
    settings, client = guarded
    with api_client(settings, "admin") as admin:
        publishes = [e for e in admin.get("/v1/audit", params={"kb": "mini"}).json()["entries"] if e["action"] == "publish"]
    assert publishes[-1]["details"]["gold"] == {"recall_at_5": 1.0, "mrr_at_10": 1.0, "n": 2}
    current = client.get("/v1/kbs/mini/records/t-ans-allowance-002").json()
    broken = {**current["record"], "question": "殡葬补贴标准是多少？", "variants": ["丧葬费给多少", "火化补贴多少钱"],
              "answer": "您好，本市户籍居民去世后，其家属可申领基本殡葬服务费用减免，具体标准以民政部门公布为准。"}
    r = client.put("/v1/kbs/mini/records/t-ans-allowance-002", json={"record": broken, "reason": "误改"},
                   headers={"If-Match": "1"})
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert detail.startswith("此修改使知识库“mini”的自测问题 Recall@5 从 1.000 降到 ")
    assert detail.endswith("已拒绝发布，原索引保持不变。受影响的问题：高龄津贴去哪里申请；老人补贴找谁申请")
    after = client.get("/v1/kbs/mini/records/t-ans-allowance-002").json()
    assert (after["revision"], after["record"]["question"]) == (3, "高龄津贴去哪里申请？")
    hist = client.get("/v1/kbs/mini/records/t-ans-allowance-002/history").json()["revisions"]
    assert [(h["action"], h["author"]) for h in hist] == [("create", "ingest"), ("update", "test-manager"),
                                                          ("guard_revert", "guard")]
    hits = client.post("/v1/search", json={"query": "高龄津贴去哪里申请", "kb": "mini", "libraries": ["answer"]}).json()
    assert hits["results"][0]["id"] == "t-ans-allowance-002" and "社会保障事务所" in hits["results"][0]["snippet"] + current["record"]["answer"]
    harmless = {**current["record"], "answer": current["record"]["answer"] + "如有疑问可拨打12345。"}
    r = client.put("/v1/kbs/mini/records/t-ans-allowance-002", json={"record": harmless}, headers={"If-Match": "3"})
    assert r.status_code == 200 and r.json()["indexed"] is True


def test_the_guard_refuses_an_ingest_and_puts_the_store_back(guarded, mini_corpus):
    settings, client = guarded
    answers = mini_corpus / "answers" / "elderly.yaml"
    text = answers.read_text(encoding="utf-8")
    answers.write_text(text.replace("高龄津贴去哪里申请？", "殡葬补贴标准是多少？").replace("高龄补贴在哪办", "丧葬费给多少")
                       .replace("老人补贴找谁申请", "火化补贴多少钱"), encoding="utf-8")
    with pytest.raises(GuardRefused, match="已拒绝发布，原索引保持不变"):
        run_ingest(settings, "mini", [mini_corpus])
    after = client.get("/v1/kbs/mini/records/t-ans-allowance-002").json()
    assert (after["revision"], after["record"]["question"]) == (3, "高龄津贴去哪里申请？")
    hist = client.get("/v1/kbs/mini/records/t-ans-allowance-002/history").json()["revisions"]
    assert [(h["action"], h["author"]) for h in hist] == [("create", "ingest"), ("ingest", "ingest"),
                                                          ("guard_revert", "guard")]
    hits = client.post("/v1/search", json={"query": "高龄津贴去哪里申请", "kb": "mini", "libraries": ["answer"]}).json()
    assert hits["results"][0]["id"] == "t-ans-allowance-002"
