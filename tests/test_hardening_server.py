"""The real ``kb serve`` process: masked one-line access log, chunked-body guard, no leak in any file.

Every path that carries caller text (search, reply, classify, contacts query
string, CLI batch classify) is fed tickets full of personal numbers; then every
log and file the run wrote is searched for those numbers.
"""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import key_for
from tests.test_privacy import CARD, VALID_ID

PHONE = "13812345678"
PII = [PHONE, "6234 5678", "62345678", VALID_ID, CARD, "110105491231002", "zhang@example.com", "1381234"]
TICKET = (f"市民张先生（电话１３８１２３４５６７８，座机（010）6234 5678，身份证{VALID_ID}，旧证110105491231002，"
          f"卡号{CARD}，邮箱zhang@example.com，口述幺三八一二三四五六七八）咨询低保标准每月多少钱")
LIMIT = 65536


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def _auth(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {key_for(settings, 'test-agent', 'agent')}"}


@pytest.fixture(scope="module")
def server(sample_settings, sample_classifier, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    port = _free_port()
    env = {**os.environ, "KB_DATA_DIR": str(sample_settings.data_dir), "KB_EMBED_CACHE": str(sample_settings.embed_cache_path),
           "KB_MAX_UPLOAD_BYTES": str(LIMIT), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    kb = Path(sys.executable).with_name("kb")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(kb), "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    first = None
    try:
        deadline = time.monotonic() + 180
        with httpx.Client(base_url=base, timeout=5) as c:
            while time.monotonic() < deadline:
                try:
                    body = c.get("/healthz").json()
                except httpx.TransportError:
                    time.sleep(0.2)
                    continue
                first = first or body
                if body["ready"]:
                    break
                time.sleep(0.3)
            else:
                pytest.fail("kb serve not ready in 180 s: " + log_path.read_text(errors="replace")[-2000:])
        yield base, log_path, first, body
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_healthz_answers_before_and_after_loading(server):
    _, _, first, ready = server
    assert set(first) >= {"ready", "loading"}
    assert ready["ready"] is True and ready["loading"] == []
    assert set(ready["kbs"]) >= {"minzheng", "canlian"}


def test_chunked_body_over_the_limit_is_413(server, sample_settings):
    base = server[0]

    def body():
        yield b'{"query": "'
        for _ in range(20):
            yield b"0" * 8192
        yield b'"}'

    r = httpx.post(base + "/v1/search", content=body(), headers={"content-type": "application/json", **_auth(sample_settings)}, timeout=10)
    assert r.status_code == 413
    assert r.json() == {"detail": "请求体过大，上限为 64 KB", "error": "PayloadTooLarge"}
    small = httpx.post(base + "/v1/search", content=iter([b'{"query": "', "低保".encode(), b'"}']),
                       headers={"content-type": "application/json", **_auth(sample_settings)}, timeout=10)
    assert small.status_code == 200


def test_personal_data_reaches_no_log_and_no_file(server, tmp_path, sample_settings):
    base, log_path, _, _ = server
    with httpx.Client(base_url=base, timeout=30, headers=_auth(sample_settings)) as c:
        assert c.post("/v1/search", json={"query": TICKET[:200]}).status_code == 200
        assert c.post("/v1/reply", json={"question": TICKET[:200]}).status_code == 200
        r = c.post("/v1/classify", json={"texts": [TICKET, "物业不作为 " + TICKET]})
        assert r.status_code == 200
        for d in r.json()["results"]:
            assert not any(p in " ".join(d["reasons"]) + (d["filter_reason"] or "") for p in PII)
        assert c.get("/v1/contacts", params={"district": PHONE, "street": VALID_ID}).status_code == 422
        assert c.get(f"/v1/contacts/{PHONE}").status_code == 404
        assert c.post("/v1/search", json={"query": TICKET, "kb": f"x{PHONE}"}).status_code == 404
        assert c.post("/v1/search", content=b"{bad json " + PHONE.encode()).status_code == 422
    tickets = tmp_path / "tickets.csv"
    tickets.write_text("工单编号,工单内容\nA1," + TICKET.replace(",", "，") + "\nA2,=HYPERLINK(\"x\") " + PHONE + "\n",
                       encoding="utf-8")
    env = {**os.environ, "KB_DATA_DIR": str(sample_settings.data_dir), "KB_EMBED_CACHE": str(sample_settings.embed_cache_path)}
    kb = Path(sys.executable).with_name("kb")
    cli = subprocess.run([str(kb), "classify", "--file", str(tickets), "--out", str(tmp_path / "out.xlsx")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert cli.returncode == 0, cli.stderr
    bad = subprocess.run([str(kb), "classify", "--kb", "minzheng", "--file", str(tmp_path / f"{PHONE}.csv")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2
    time.sleep(0.5)
    log = log_path.read_text(encoding="utf-8")
    assert "Logging error" not in log and "Traceback" not in log
    access = [line for line in log.splitlines() if re.search(r"(GET|POST) /\S* \d{3} \d+\.\d ms", line)]
    assert len(access) >= 8
    assert any("POST /v1/search 413" in line for line in access)
    assert any(line.endswith(" ms") and "GET /v1/contacts 422" in line for line in access)
    assert "district=" not in log
    import zipfile

    written = {"serve.log": log, "cli stdout": cli.stdout + bad.stdout, "cli stderr": cli.stderr + bad.stderr}
    with zipfile.ZipFile(tmp_path / "out.xlsx") as z:
        written["out.xlsx"] = html.unescape("".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()))
    assert "【手机号】" in written["out.xlsx"]
    leaks = {name: [p for p in PII if p in text] for name, text in written.items()}
    assert leaks == {name: [] for name in written}
