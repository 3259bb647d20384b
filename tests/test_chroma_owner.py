"""A running `kb serve` owns the embedded vector store; `kb ingest` and `kb search` beside it never open it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ingest.pipeline import run_ingest
from tests.conftest import PROJECT_ROOT, key_for

ANSWER = "t-ans-allowance-002"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kb(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("kb")), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT_ROOT)


@pytest.fixture()
def served(mini_settings, mini_corpus, tmp_path):
    run_ingest(mini_settings, "mini", [mini_corpus])
    key = key_for(mini_settings, "test-manager", "manager")
    env = {**os.environ, "KB_DATA_DIR": str(mini_settings.data_dir), "KB_EMBED_CACHE": str(mini_settings.embed_cache_path),
           "KB_KBS": '["mini"]', "KB_STORE_SYNC_SECONDS": "0.5", "PYTHONPATH": str(PROJECT_ROOT), "KB_ACTOR": "ops-li"}
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("kb")), "serve", "--port", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=base, timeout=5) as c:
            while time.monotonic() < deadline:
                try:
                    if c.get("/healthz").json()["ready"]:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.3)
            else:
                pytest.fail("kb serve not ready: " + log_path.read_text(errors="replace")[-2000:])
        yield base, {"Authorization": f"Bearer {key}"}, env, log_path
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_ingest_beside_a_running_server_hands_the_index_to_it(served, mini_corpus):
    base, auth, env, log_path = served
    with httpx.Client(base_url=base, timeout=30, headers=auth) as c:
        before = c.get("/healthz").json()["kbs"]["mini"]["version"]
        answers = mini_corpus / "answers" / "elderly.yaml"
        answers.write_text(answers.read_text(encoding="utf-8").replace("10个工作日", "2个工作日"), encoding="utf-8")
        out = _kb("ingest", "--kb", "mini", str(mini_corpus), env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "服务正在运行：索引由服务根据记录库更新（本进程未打开向量库）" in out.stdout
        health = c.get("/healthz").json()["kbs"]["mini"]
        assert health["version"] != before
        hit = c.post("/v1/search", json={"query": "高龄津贴审核要几个工作日", "kb": "mini", "libraries": ["answer"]}).json()
        assert hit["results"][0]["id"] == ANSWER
        record = c.get(f"/v1/kbs/mini/records/{ANSWER}").json()
        assert "2个工作日" in record["record"]["answer"] and record["updated_by"] == "ops-li"
    searched = _kb("search", "高龄津贴审核要几个工作日", "--kb", "mini", "--json", "-l", "answer", env=env)
    assert searched.returncode == 0, searched.stderr
    assert f'"{ANSWER}"' in searched.stdout  # read from the version files (exact search), not the server's store
    second = _kb("serve", "--port", str(_free_port()), env=env, timeout=60)
    assert second.returncode == 2
    assert "已有一个服务在运行（它占用向量库）" in second.stderr
    assert "caught up with the store" in log_path.read_text(errors="replace")
