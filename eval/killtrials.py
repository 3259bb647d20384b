"""Kill trials: SIGKILL a real ``kb ingest`` at random moments and check nothing is lost.

Each trial changes one document (so the ingest embeds, writes a version and switches),
starts ``kb ingest`` as its own process, kills it after a random delay drawn over the
whole length of an undisturbed run (start-up, validation, embedding, writing, the
switch), then checks in a fresh process that the knowledge base answers from a
complete version, and that the next ingest finishes and serves the change.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kb.settings import PROJECT_ROOT

CHECK = """
import json, sys
from kb.settings import Settings
from kb.service import KnowledgeService
from kb.search import SearchRequest
settings = Settings()
index = KnowledgeService(settings).index(sys.argv[1])
hits = KnowledgeService(settings).search(sys.argv[1], SearchRequest(sys.argv[2], top_k=3)).hits
complete = index.size == sum(index.manifest["counts"].values()) and len(index.position) == index.size
print(json.dumps({"version": index.vid, "complete": complete, "hits": [h.chunk.doc_id for h in hits],
                  "text": index.chunks[index.position[sys.argv[3]]].text if sys.argv[3] in index.position else ""},
                 ensure_ascii=False))
"""


@dataclass
class TrialReport:
    trials: int = 0
    survived: int = 0
    failures: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"trials": self.trials, "survived": self.survived, "failures": self.failures,
                "delays_s": [round(d, 2) for d in self.delays]}


def _env(data_dir: Path, cache: Path) -> dict[str, str]:
    return {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_EMBED_CACHE": str(cache), "KB_DATABASE_URL": "",
            "PYTHONPATH": str(PROJECT_ROOT), "KB_ACTOR": "kill-trial"}


def _ingest(kb: str, corpus: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", "ingest", "--kb", kb, str(corpus)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=PROJECT_ROOT)


def _check(kb: str, query: str, record: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", CHECK, kb, query, record], env=env, capture_output=True, text=True,
                         cwd=PROJECT_ROOT, timeout=300)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_trials(n: int, kb: str, corpus: Path, work: Path, edit_file: str, old: str, record: str, query: str,
               seed: int = 0, cache: Path | None = None) -> TrialReport:
    """``edit_file`` (relative to ``corpus``) has ``old`` replaced by a per-trial text in ``record``'s answer."""
    rng = random.Random(seed)
    copy = work / "corpus"
    shutil.copytree(corpus, copy)
    cache_copy = work / "embed_cache.sqlite"
    if cache is not None and cache.exists():
        shutil.copyfile(cache, cache_copy)
    env = _env(work / "data", cache_copy)
    started = time.perf_counter()
    first = _ingest(kb, copy, env)
    if first.wait() != 0:
        raise RuntimeError(f"首次导入失败：{first.stderr.read().decode()[-500:]}")
    target = copy / edit_file
    original = target.read_text(encoding="utf-8")
    assert old in original, f"{edit_file} 中没有“{old}”"
    report = TrialReport()
    duration = None
    for trial in range(n):
        marker = f"{old}（第{trial + 1}次修订，编号{rng.randrange(10**6):06d}）"
        target.write_text(original.replace(old, marker, 1), encoding="utf-8")
        t = time.perf_counter()
        proc = _ingest(kb, copy, env)
        if duration is None:  # the first trial runs undisturbed and measures how long an ingest takes
            proc.wait()
            duration = time.perf_counter() - t
            started = time.perf_counter() - started
            continue
        delay = rng.uniform(0.05, duration * 1.1)
        report.delays.append(delay)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        report.trials += 1
        after_kill = _check(kb, query, record, env)
        problem = ""
        if "error" in after_kill or not after_kill["complete"] or record not in after_kill["hits"]:
            problem = f"第{trial + 1}次（{delay:.2f}s 后中止）中止后不可用：{after_kill}"
        else:
            rerun = _ingest(kb, copy, env)
            code = rerun.wait(timeout=900)
            after = _check(kb, query, record, env)
            if code != 0:
                problem = f"第{trial + 1}次：中止后的再次导入失败（退出码 {code}）：{rerun.stderr.read().decode()[-300:]}"
            elif "error" in after or marker not in after.get("text", ""):
                problem = f"第{trial + 1}次：再次导入后修改未生效：{after}"
        if problem:
            report.failures.append(problem)
        else:
            report.survived += 1
    return report


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="SIGKILL kb ingest at random moments and check the index survives")
    parser.add_argument("--trials", type=int, default=50, help="kills (one more undisturbed run measures the length)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kb-kill-") as tmp:
        report = run_trials(args.trials + 1, "canlian", PROJECT_ROOT / "corpus" / "canlian", Path(tmp),
                            "answers/rights.yaml", "残联会配合做好监督", "cl-ans-access-001", "盲道被占用了找谁处理",
                            args.seed,
                            PROJECT_ROOT / "data" / "embed_cache.sqlite")
    sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
    sys.stdout.write(f"survived {report.survived}/{report.trials}\n")
    return 0 if report.survived == report.trials else 1


if __name__ == "__main__":
    sys.exit(main())
