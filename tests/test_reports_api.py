"""POST /v1/reports end to end over HTTP, with the report upload limit kept apart from the API's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import api_client, make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "reports" / "march.csv"
REPORT_LIMIT = 16 * 1024


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """No index and no classifier: a report must still be produced, without the optional parts."""
    settings = make_settings(tmp_path_factory.mktemp("api"), max_upload_bytes=1024, report_max_upload_bytes=REPORT_LIMIT)
    with api_client(settings, "agent") as c:
        yield c


def _post(client, content: bytes, name: str = "march.csv", **form):
    return client.post("/v1/reports", files={"file": (name, content, "text/csv")},
                       data={"kb": "minzheng", "period": "month", **form})


def test_report_over_http_returns_figures_and_file_links(client):
    assert FIXTURE.stat().st_size > 1024  # larger than the search API's limit, within the report limit
    r = _post(client, FIXTURE.read_bytes(), date="2026-03-15")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"]["start"] == "2026-03-01" and body["period"]["end"] == "2026-03-31"
    assert body["total"] == 15
    assert body["excluded_rows"] == 4
    assert body["kpi"] == {"response_rate": 11 / 13, "resolution_rate": 9 / 11, "satisfaction_rate": 0.8}
    assert [f["kpi"] for f in body["kpi_flags"]] == ["response_rate", "resolution_rate", "satisfaction_rate"]
    assert "answer" not in body["report"]["hot_issues"][0]  # no index: the field is left out, not faked
    assert sorted(body["files"]) == ["report.docx", "report.html", "report.json", "report.xlsx"]
    for name, url in body["files"].items():
        assert url == f"http://testserver/v1/reports/{body['report_id']}/{name}"
        got = client.get(url)
        assert got.status_code == 200
        assert "13800001111" not in got.content.decode("utf-8", "replace")
    on_disk = client.get(body["files"]["report.json"]).json()
    assert on_disk["kpi"] == body["kpi"]
    assert json.dumps(on_disk, ensure_ascii=False).count("【手机号】") >= 1


def test_unknown_report_file_is_404(client):
    r = client.get("/v1/reports/20260101000000-abcdef12/report.pdf")
    assert r.status_code == 404
    assert r.json()["detail"] == ("报告文件不存在：20260101000000-abcdef12/report.pdf"
                                  "（可下载：report.json、report.html、report.docx、report.xlsx）")
    r = client.get("/v1/reports/..%2F..%2Fetc/report.json")
    assert r.status_code == 404


def test_oversize_upload_is_413(client):
    r = _post(client, b"x" * (REPORT_LIMIT + 1))
    assert r.status_code == 413
    assert r.json()["detail"].startswith("请求体过大")


def test_oversize_chunked_upload_without_length_is_413(client):
    boundary = "reportboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        yield head
        for _ in range(20):
            yield b"y" * 1024
        yield tail

    r = client.post("/v1/reports", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413
    # Refused by the ASGI guard before the form is parsed, at the reports' own limit.
    assert r.json()["detail"] == "请求体过大，上限为 16 KB"


@pytest.mark.parametrize(("content", "name", "form", "detail"), [
    ("工单编号,时间\nA,1\n".encode(), "a.csv", {}, "a.csv：无法识别的列“时间”。请改为标准表头，或在 corpus/reports/columns.yaml 中登记该写法"),
    (b"", "empty.csv", {}, "empty.csv：文件为空"),
    (b"x", "tickets.pdf", {}, "不支持的文件类型“.pdf”，请上传 CSV 或 XLSX"),
    (FIXTURE.read_bytes(), "march.csv", {"date": "2026/03/15"}, "date 应为 YYYY-MM-DD 格式的日期，收到“2026/03/15”"),
    (FIXTURE.read_bytes(), "march.csv", {"kb": "gongan"}, "未知的知识库“gongan”，可选：minzheng、canlian"),
])
def test_bad_uploads_get_chinese_422(client, content, name, form, detail):
    r = _post(client, content, name, **form)
    assert r.status_code == 422
    assert r.json()["detail"] == detail


def test_reports_need_a_key(client):
    r = client.post("/v1/reports", files={"file": ("march.csv", FIXTURE.read_bytes(), "text/csv")},
                    data={"kb": "minzheng", "period": "month"}, headers={"Authorization": "Bearer wrong"})
    assert (r.status_code, r.json()["detail"]) == (401, "密钥无效或已被吊销")
