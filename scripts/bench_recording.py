"""What storing interactions costs the caller: /v1/search and /v1/reply latency over HTTP with and without recording.

Runs the real app under uvicorn on 127.0.0.1 over a private copy of the mini knowledge base; recording is switched
off by removing the interaction store from app.state (the routes then queue nothing).
Usage: PYTHONPATH=. .venv/bin/python scripts/bench_recording.py [rounds]
"""

from __future__ import annotations

import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from api.app import create_app
from ingest.pipeline import run_ingest
from kb.keys import KeyStore
from kb.settings import PROJECT_ROOT, Settings
from kb.storefactory import open_store

QUESTIONS = ["高龄津贴去哪里申请", "九十岁老人每月多少钱", "东四街道高龄津贴找谁", "老人补贴找谁申请", "高龄补贴在哪办"]


def main(rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    shutil.copytree(PROJECT_ROOT / "tests" / "fixtures" / "mini", root / "mini")
    settings = Settings(data_dir=root / "data", embed_cache=PROJECT_ROOT / "data" / "embed_cache.sqlite",
                        corpus_dir=PROJECT_ROOT / "corpus", kbs=["mini"], store_sync_seconds=0.0)
    run_ingest(settings, "mini", [root / "mini"])
    key = KeyStore(open_store(settings)).create("bench", "agent", actor="bench")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=60)
    store = app.state.interactions

    def run(path: str, field: str) -> list[float]:
        out = []
        for n in range(rounds):
            q = QUESTIONS[n % len(QUESTIONS)] + "？" * (n // len(QUESTIONS) % 3)
            started = time.perf_counter()
            r = client.post(path, json={field: q, "kb": "mini"})
            out.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200, r.text
            time.sleep(0.02)  # a caller's next question is never this close; lets the stored write finish
        return out

    for path, field in (("/v1/search", "query"), ("/v1/reply", "question")):
        run(path, field)  # warm-up
        times: dict[str, list[float]] = {"recording": [], "not recording": []}
        for _ in range(2):  # interleaved, so that a drift of the machine's speed hits both alike
            for label, state in (("not recording", None), ("recording", store)):
                app.state.interactions = state
                times[label] += run(path, field)
        for label, t in times.items():
            t.sort()
            print(f"{path} {label}: median {statistics.median(t):.1f} ms, p95 {t[int(0.95 * (len(t) - 1))]:.1f} ms (n={len(t)})")
        app.state.interactions = store
    print(f"stored answers: {len(store.events('mini', limit=100000))}")
    server.should_exit = True
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
