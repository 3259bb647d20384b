"""Console speed in a real browser: page load to interactive, keystroke to results painted,
transcript fragment to suggestion painted. Optional section of ``kb bench --browser``; needs
``/usr/bin/chromium`` and the ``playwright`` package (no browser download)."""

from __future__ import annotations

import math
import socket
import statistics
import threading
import time
from pathlib import Path

from kb.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
QUERIES = ["低保标准每月多少钱", "离婚冷静期多少天", "养老助残卡丢了怎么办", "高龄津贴怎么领", "临时救助怎么申请",
           "特困人员供养标准", "殡葬补贴多少钱", "结婚登记要带什么", "居家养老服务", "我妈82了高龄津贴怎么领"] * 2


def _stats(samples: list[float]) -> dict:
    s = sorted(samples)
    if not s:
        return {}
    return {"p50": round(statistics.median(s), 1), "p95": round(s[min(len(s) - 1, math.ceil(0.95 * len(s)) - 1)], 1),
            "n": len(s)}


def browser_bench(settings: Settings, transcript: Path | None = None) -> dict | None:
    """The three figures in ms, or None when no browser is available."""
    if not CHROMIUM.exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    import uvicorn

    from api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/"
    transcript = transcript or settings.corpus_dir / "transcripts" / "elderly-allowance.jsonl"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            loads = []
            for _ in range(3):
                t = time.perf_counter()
                page.goto(url)
                page.wait_for_function("document.querySelectorAll('#district option').length === 17")
                loads.append((time.perf_counter() - t) * 1000)
            for n, q in enumerate(QUERIES, start=1):
                page.fill("#q", q)
                page.wait_for_function(f"document.body.dataset.painted === '{n}'", timeout=30000)
            keys = page.evaluate("window.__timings.keyToPaint")
            page.click("#follow")
            page.set_input_files("#transcript", str(transcript))
            page.wait_for_function(f"document.body.dataset.replayed === '{transcript.name}'", timeout=30000)
            page.wait_for_function("window.__timings.fragmentToPaint.length >= 3", timeout=30000)
            fragments = page.evaluate("window.__timings.fragmentToPaint")
            browser.close()
    finally:
        server.should_exit = True
    return {"page_load_ms": _stats(loads), "keystroke_to_results_ms": _stats(keys),
            "fragment_to_suggestion_ms": _stats(fragments), "debounce_ms": 250}
