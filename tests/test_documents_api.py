"""Uploads over HTTP: the dry run previews, bad rows are located, good rows still go in."""

from __future__ import annotations

import pytest

from ingest.pipeline import run_ingest
from tests.conftest import api_client

HEADER = "id,unit,level,district,street,phone,address,hours,duties,topics\n"
GOOD = ("t-con-0101,海淀区民政局养老服务科,区,海淀区,,010-0200-0101,海淀区示例路1号,工作日 9:00-17:00,办理海淀区高龄津贴审核,elderly_allowance\n"
        "t-con-0102,丰台区民政局养老服务科,区,丰台区,,010-0200-0102,丰台区示例路2号,工作日 9:00-17:00,办理丰台区高龄津贴审核,elderly_allowance\n")
BAD = "t-con-0103,某单位,区,火星区,,010-0200-0103,,,,elderly_allowance\n"


@pytest.fixture()
def client(mini_settings, mini_corpus):
    settings = mini_settings.model_copy(update={"store_sync_seconds": 0.0})
    run_ingest(settings, "mini", [mini_corpus])
    with api_client(settings, "manager") as c:
        yield c


def _upload(client, name: str, data: bytes, **params):
    return client.post("/v1/kbs/mini/documents", params=params, files=[("files", (name, data, "text/csv"))])


def test_dry_run_previews_and_changes_nothing_then_the_upload_stores_good_rows(client):
    r = _upload(client, "新增联系人.csv", (HEADER + GOOD + BAD).encode("gbk"), dry_run="true", library="contact")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["dry_run"], body["added"], body["updated"], body["rejected"]) == (True, 2, 0, 1)
    assert body["rejections"] == [{"file": "新增联系人.csv", "location": "第4行", "record_id": "t-con-0103",
                                   "field": "district", "reason": "区名“火星区”无效，应为北京市16个区之一（如 朝阳区）"}]
    assert client.get("/v1/kbs/mini/records/t-con-0101").status_code == 404
    r = _upload(client, "新增联系人.csv", (HEADER + GOOD + BAD).encode("gbk"), library="contact")
    assert (r.json()["added"], r.json()["rejected"]) == (2, 1)
    got = client.get("/v1/kbs/mini/records/t-con-0101").json()
    assert (got["revision"], got["updated_by"], got["record"]["phone"]) == (1, "test-manager", "010-0200-0101")
    hits = client.post("/v1/search", json={"query": "海淀区高龄津贴找谁", "kb": "mini", "libraries": ["contact"]}).json()
    assert "t-con-0101" in [h["id"] for h in hits["results"]]
    again = _upload(client, "新增联系人.csv", (HEADER + GOOD).encode("utf-8"), library="contact").json()
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_nothing_valid_is_422_with_every_rejection_and_wrong_role_is_403(client, mini_settings):
    r = _upload(client, "scan.tiff", b"II*\x00")
    assert r.status_code == 422
    assert r.json()["errors"][0]["file"] == "scan.tiff"
    assert r.json()["errors"][0]["reason"].startswith("不支持的文件类型“.tiff”")
    r = _upload(client, "empty.csv", b"")
    assert r.status_code == 422
    settings = client.app.state.settings
    with api_client(settings, "agent") as agent:
        assert _upload(agent, "x.csv", (HEADER + GOOD).encode()).status_code == 403
