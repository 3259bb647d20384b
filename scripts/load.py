"""Load test: 200 simulated agents against a local ``kb serve``, then a rate ramp to saturation.

    KB_DATA_DIR=/work/main/data kb serve --port 8765 &
    python scripts/load.py --port 8765

Phase 1, idle: 40 sequential questions from one client (idle p95).
Phase 2, agents: 200 agents, each with its own connection, ask a question every
10–20 s for --seconds (≈13 req/s) against /v1/search and /v1/reply.
Phase 3, ramp: open-loop arrivals at rising rates, 10 s each, until p95 > 300 ms;
the highest completed rate is the saturation throughput. Bounded in count and
time, and only ever aimed at 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time

import httpx

QUESTIONS = [
    "低保标准每月多少钱", "临时救助怎么申请", "高龄津贴多大年龄可以领", "残疾人两项补贴的标准",
    "养老服务驿站提供哪些服务", "特困人员供养怎么办理", "婚姻登记需要带什么材料", "低保申请需要什么条件",
    "残疾证怎么办理", "居家养老补贴怎么领",
]
MAX_REQUESTS = 20_000


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values, default=0.0)


async def ask(client: httpx.AsyncClient, lat: list[float], errors: list[str]) -> None:
    q = random.choice(QUESTIONS)
    path, body = random.choice([("/v1/search", {"query": q, "top_k": 5}), ("/v1/reply", {"question": q})])
    started = time.perf_counter()
    try:
        r = await client.post(path, json=body)
        if r.status_code != 200:
            errors.append(f"{path} {r.status_code}")
    except httpx.HTTPError as exc:
        errors.append(f"{path} {type(exc).__name__}")
    lat.append((time.perf_counter() - started) * 1000)


async def idle(base: str, n: int = 40) -> list[float]:
    lat: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        for _ in range(n):
            await ask(c, lat, errors)
    if errors:
        print("idle errors:", errors[:5])
    return lat


async def agents(base: str, count: int, seconds: float) -> tuple[list[float], list[str]]:
    lat: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds

    # Clients are built before the clock starts: building 200 (SSL contexts included) blocks the event loop
    # for seconds, which would be measured as server latency.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=base, timeout=30, limits=limits) for _ in range(count)]
    stop = time.monotonic() + seconds

    async def agent(c: httpx.AsyncClient) -> None:
        async with c:
            await asyncio.sleep(random.uniform(0, 15))  # agents' calls do not start in lockstep
            while time.monotonic() < stop and len(lat) < MAX_REQUESTS:
                await ask(c, lat, errors)
                await asyncio.sleep(random.uniform(10, 20))

    await asyncio.gather(*(agent(c) for c in clients))
    return lat, errors


async def ramp(base: str, start_rate: float, step_seconds: float, limit_ms: float) -> list[tuple[float, float, float, int]]:
    """(offered rate, achieved rate, p95, errors) per step, stopping once p95 passes ``limit_ms``."""
    out = []
    rate = start_rate
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as c:
        while rate <= 400:
            lat: list[float] = []
            errors: list[str] = []
            started = time.perf_counter()
            tasks = []
            n = int(rate * step_seconds)
            for i in range(n):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(ask(c, lat, errors)))
            await asyncio.gather(*tasks)
            achieved = len(lat) / (time.perf_counter() - started)
            out.append((rate, achieved, p95(lat), len(errors)))
            print(f"  ramp {rate:6.1f} req/s offered → {achieved:6.1f} done/s, p95 {p95(lat):7.1f} ms, errors {len(errors)}")
            if p95(lat) > limit_ms:
                break
            rate *= 1.5
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--ramp-start", type=float, default=10)
    parser.add_argument("--limit-ms", type=float, default=300)
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"  # never anything but this machine
    lat = asyncio.run(idle(base))
    idle_p95 = p95(lat)
    print(f"idle: {len(lat)} requests, p50 {statistics.median(lat):.1f} ms, p95 {idle_p95:.1f} ms")
    started = time.perf_counter()
    lat, errors = asyncio.run(agents(base, args.agents, args.seconds))
    took = time.perf_counter() - started
    print(f"agents: {args.agents} agents, {len(lat)} requests in {took:.0f} s ({len(lat) / took:.1f} req/s), "
          f"errors {len(errors)}, p50 {statistics.median(lat):.1f} ms, p95 {p95(lat):.1f} ms "
          f"(idle p95 {idle_p95:.1f} ms)")
    if args.ramp_start <= 0:
        return 1 if errors else 0
    steps = asyncio.run(ramp(base, args.ramp_start, 10, args.limit_ms))
    ok = [s for s in steps if s[2] <= args.limit_ms]
    best = max((s[1] for s in ok), default=0.0)
    print(f"saturation: p95 passes {args.limit_ms:.0f} ms at {steps[-1][0]:.1f} req/s offered "
          f"({steps[-1][1]:.1f} done/s); highest rate within the limit {best:.1f} req/s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
