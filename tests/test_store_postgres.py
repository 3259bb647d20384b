"""The store of record on a real PostgreSQL server: revisions, races, audit chain, two instances sharing it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ingest.pipeline import run_ingest
from kb.errors import StaleRevision
from kb.store import Change, RecordStore, make_engine
from tests.conftest import api_client, make_settings
from tests.pgserver import PostgresServer, find_bin

pytestmark = [pytest.mark.server, pytest.mark.skipif(find_bin() is None, reason="未安装 PostgreSQL（apt-get install postgresql）")]


@pytest.fixture(scope="module")
def pg_url():
    server = PostgresServer()
    try:
        url = server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.skip(str(exc))
    yield url
    server.stop()


def test_revisions_races_and_the_audit_chain_on_postgres(pg_url):
    store = RecordStore(make_engine(pg_url))
    content = {"id": "pg-ans-1", "question": "测试问题", "answer": "测试答复第一版。"}
    store.create("pgkb", Change("answer", "pg-ans-1", content, "测试问题", "新建"), "甲")

    def edit(i: int) -> str:
        try:
            store.update("pgkb", Change("answer", "pg-ans-1", {**content, "answer": f"第{i}版"}, "测试问题", f"并发{i}"),
                         f"编辑{i}", expected_revision=1)
            return "ok"
        except StaleRevision:
            return "stale"

    with ThreadPoolExecutor(6) as pool:
        outcomes = sorted(pool.map(edit, range(6)))
    assert outcomes == ["ok", "stale", "stale", "stale", "stale", "stale"]
    assert [h["revision"] for h in store.history("pgkb", "pg-ans-1")] == [1, 2]
    n, problems = store.verify_audit()
    assert problems == [] and n == 2


def test_two_service_instances_share_one_store(pg_url, tmp_path, mini_corpus):
    a = make_settings(tmp_path / "a", kbs=["mini"], database_url=pg_url, store_sync_seconds=0.5)
    b = make_settings(tmp_path / "b", kbs=["mini"], database_url=pg_url, store_sync_seconds=0.5)
    run_ingest(a, "mini", [mini_corpus])
    run_ingest(b, "mini", [mini_corpus])  # the second instance builds its own index from the shared store
    with api_client(a, "manager") as first, api_client(b, "agent") as second:
        record = first.get("/v1/kbs/mini/records/t-ans-allowance-002").json()["record"]
        record["answer"] = record["answer"].replace("10个工作日", "8个工作日")
        started = time.monotonic()
        r = first.put("/v1/kbs/mini/records/t-ans-allowance-002", json={"record": record, "reason": "实例A修改"},
                      headers={"If-Match": "1"})
        assert r.status_code == 200
        body = {"question": "高龄津贴去哪里申请", "kb": "mini"}
        while "8个工作日" not in second.post("/v1/reply", json=body).json()["reply"]:
            assert time.monotonic() - started < 15, "second instance never caught up with the shared store"
            time.sleep(0.2)
