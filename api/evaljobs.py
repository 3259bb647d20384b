"""Evaluation runs as background jobs: one ``kb eval job`` process at a time per kb, polled by the page.

Why a process and not an import: the evaluators live in ``eval/`` (cli → eval → kb), which
the service must not import, and a run takes seconds to minutes of CPU that would otherwise
hold the service's GIL while agents search. The child runs the very functions ``kb eval …``
prints, with the service's settings plus the run's overrides, so the live service's settings
never change; it writes progress.json and result.json under <data_dir>/eval_runs/<run_id>/.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kb.errors import Conflict
from kb.evalruns import EvalRunStore
from kb.index import IndexLayout
from kb.settings import PROJECT_ROOT, Settings

log = logging.getLogger("kb.api.eval")
JOB_TIMEOUT_SECONDS = 3600


class EvalJobs:
    def __init__(self, settings: Settings, runs: EvalRunStore) -> None:
        self.settings = settings
        self.runs = runs
        self.root = settings.data_dir / "eval_runs"
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}  # kb → run id
        self._procs: dict[str, subprocess.Popen] = {}
        interrupted = runs.interrupt_running()
        if interrupted:
            log.warning("%d evaluation run(s) interrupted by a restart marked failed", interrupted)

    def start(self, kb: str, suite: str, split: str, config: dict[str, Any], actor: str) -> str:
        with self._lock:
            if kb in self._running:
                raise Conflict(f"知识库“{kb}”已有一次评测在运行（{self._running[kb]}），请等它完成后再运行")
            vid = IndexLayout(self.settings.data_dir, kb).current() or ""
            run_id = self.runs.create(kb, suite, split, config, actor, vid)
            self._running[kb] = run_id
        folder = self.root / run_id
        folder.mkdir(parents=True, exist_ok=True)
        spec = {"kb": kb, "suite": suite, "split": split, "config": config,
                "settings": self.settings.model_dump(mode="json")}
        (folder / "spec.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        threading.Thread(target=self._run, args=(kb, run_id, folder), name=f"eval-{run_id}", daemon=True).start()
        return run_id

    def progress(self, run_id: str) -> dict[str, int] | None:
        try:
            return json.loads((self.root / run_id / "progress.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def running(self, kb: str) -> str | None:
        return self._running.get(kb)

    def stop(self) -> None:
        """At shutdown: end the children this service started (their runs are marked failed at the next start)."""
        for proc in list(self._procs.values()):
            proc.terminate()

    def _run(self, kb: str, run_id: str, folder: Path) -> None:
        started = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
               "OMP_NUM_THREADS": str(self.settings.embed_threads)}
        try:
            with open(folder / "stderr.log", "wb") as stderr:
                command = [sys.executable, "-m", "cli.main", "eval", "job", str(folder / "spec.json")]
                nice = shutil.which("nice")  # agents' searches first: the run takes what CPU is left
                proc = subprocess.Popen([nice, "-n", "10", *command] if nice else command,
                                        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
                self._procs[run_id] = proc
                proc.wait(timeout=JOB_TIMEOUT_SECONDS)
            self._record(run_id, folder, time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - whatever happened, the run must not stay 'running'
            log.exception("evaluation run %s failed", run_id)
            self.runs.fail(run_id, f"评测进程异常：{type(exc).__name__}", time.perf_counter() - started)
        finally:
            self._procs.pop(run_id, None)
            with self._lock:
                self._running.pop(kb, None)

    def _record(self, run_id: str, folder: Path, seconds: float) -> None:
        try:
            result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            tail = (folder / "stderr.log").read_text(encoding="utf-8", errors="replace")[-500:]
            self.runs.fail(run_id, f"评测进程未写出结果：{tail}", seconds)
            return
        if "skipped" in result:
            self.runs.fail(run_id, result["skipped"], seconds, skipped=True)
        elif "error" in result:
            self.runs.fail(run_id, f"评测失败：{result['error']}", seconds)
        else:
            self.runs.finish(run_id, result["figures"], result["items"], seconds)
