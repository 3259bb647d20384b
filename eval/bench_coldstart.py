"""Cold start: process start → first successful ``/v1/search`` and first ``/v1/reply`` answer, over HTTP.

Each run starts ``kb serve`` as a fresh process (so imports, the index, the embedder and the classifier are all
loaded from nothing; the OS file cache stays warm, as it is on a restart), polls the two routes until each
answers 200, and reads the service's own per-component load times from ``/healthz``. The median over runs
is reported, because one start on a shared two-core machine varies by a second or more. The server's own
CPU seconds (user + system, all threads) at each first answer are reported too: on a loaded machine the
wall time measures the neighbours, the CPU time still measures the start-up's work.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import numpy as np

from kb.settings import Settings

SEARCH = {"query": "高龄津贴怎么申请", "kb": "minzheng"}
REPLY = {"question": "我妈82了高龄津贴怎么领", "kb": "minzheng"}


def _cpu_s(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return round(t.user + t.system, 2)


def first_ok(client, path: str, body: dict, started: float, deadline: float, pid: int) -> tuple[float, float]:
    """(wall seconds since spawn, the server's CPU seconds) when ``path`` first answers 200."""
    import httpx

    while time.time() < deadline:
        try:
            if client.post(path, json=body).status_code == 200:
                return time.perf_counter() - started, _cpu_s(pid)
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{path} 在 {deadline - time.time():.0f} 秒内未成功应答")


def spawn_serve(settings: Settings, port: int) -> subprocess.Popen:
    """``kb serve`` as a fresh process on ``port`` over ``settings``' data: the server every bench talks to."""
    env = {**os.environ, "KB_DATA_DIR": str(settings.data_dir), "KB_EMBED_CACHE": str(settings.embed_cache_path)}
    return subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_listening(client, proc: subprocess.Popen, deadline: float) -> None:
    """Until the spawned server answers /healthz (it does while its parts still load)."""
    import httpx

    while True:
        try:
            client.get("/healthz")
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("服务进程未能启动") from None
            time.sleep(0.02)


def one_cold_start(settings: Settings, key: str, port: int, timeout: float = 120.0) -> dict:
    """Seconds from spawning ``kb serve`` to the first 200 of search and of reply, plus /healthz's breakdown."""
    import httpx

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = spawn_serve(settings, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            deadline = time.time() + timeout
            wait_listening(client, proc, deadline)
            listening = time.perf_counter() - started
            search, search_cpu = first_ok(client, "/v1/search", SEARCH, started, deadline, proc.pid)
            reply, reply_cpu = first_ok(client, "/v1/reply", REPLY, started, deadline, proc.pid)
            while not (health := client.get("/healthz").json())["ready"] and time.time() < deadline:
                time.sleep(0.1)
            all_ready = time.perf_counter() - started
        return {"listening_s": round(listening, 2), "first_search_s": round(search, 2),
                "first_reply_s": round(reply, 2), "all_ready_s": round(all_ready, 2),
                "first_search_cpu_s": search_cpu, "first_reply_cpu_s": reply_cpu,
                "load_avg_1m": round((load_before + os.getloadavg()[0]) / 2, 2),
                "components": health.get("components", {})}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def run_coldstart_bench(settings: Settings, console, runs: int = 5) -> dict:
    """``runs`` cold starts; p50 (median) and max of each figure, and the median per-component load time."""
    import json

    from eval.bench import _free_port
    from kb.keys import KeyStore
    from kb.storefactory import open_store

    keys = KeyStore(open_store(settings))
    name = f"bench-cold-{secrets.token_hex(4)}"
    key = keys.create(name, "agent", actor="bench")
    try:
        samples = []
        for _ in range(runs):
            samples.append(one_cold_start(settings, key, _free_port()))
            console.print(json.dumps(samples[-1], ensure_ascii=False))
    finally:
        keys.revoke(name, actor="bench")
    report: dict = {"runs": runs}
    for figure in ("listening_s", "first_search_s", "first_reply_s", "all_ready_s", "first_search_cpu_s",
                   "first_reply_cpu_s", "load_avg_1m"):
        values = [s[figure] for s in samples]
        report[figure] = {"p50": round(float(np.median(values)), 2), "max": max(values)}
    parts = sorted({p for s in samples for p in s["components"]})
    report["component_load_s_p50"] = {
        p: round(float(np.median([s["components"][p]["seconds"] for s in samples
                                  if s["components"].get(p, {}).get("seconds") is not None] or [np.nan])), 2)
        for p in parts}
    console.print(json.dumps(report, ensure_ascii=False))
    return report
