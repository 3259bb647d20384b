"""Time from saving an edit over the records API to /v1/reply serving the new text (the manager page's save).

Builds a private copy of the mini test kb (or, with ``minzheng``, of the sample 民政 kb), starts the real app in-process (TestClient), warms one reply, then
edits the standard answer N times and measures: PUT (validate + store + delta publish) and the first reply after it
that carries the new text. Usage: PYTHONPATH=. python scripts/measure_edit_to_served.py [N] [mini|minzheng]
"""

from __future__ import annotations

import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from ingest.pipeline import run_ingest
from kb.keys import KeyStore
from kb.settings import PROJECT_ROOT, Settings
from kb.storefactory import open_store

CASES = {  # kb → (corpus folder, the answer edited, a question it answers, the phrase edited)
    "mini": ("tests/fixtures/mini", "t-ans-allowance-002", "高龄津贴去哪里申请", r"\d+个工作日"),
    "minzheng": ("corpus/minzheng", "mz-ans-elderly-allowance-002", "高龄津贴需要本人去申请吗", r"补发最长不超过\d+个月"),
}


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    return f"p50 {statistics.median(values):.0f} ms, p95 {values[int(0.95 * (len(values) - 1))]:.0f} ms (n={len(values)})"


def main(n: int, kb: str) -> None:
    folder, answer, question, phrase = CASES[kb]
    query = {"question": question, "kb": kb}
    tmp = Path(tempfile.mkdtemp(prefix="measure-edit-"))
    shutil.copytree(PROJECT_ROOT / folder, tmp / kb)
    settings = Settings(data_dir=tmp / "data", embed_cache=PROJECT_ROOT / "data" / "embed_cache.sqlite",
                        corpus_dir=PROJECT_ROOT / "corpus", kbs=[kb], store_sync_seconds=0.0)
    run_ingest(settings, kb, [tmp / kb])
    key = KeyStore(open_store(settings)).create("measure", "manager", actor="measure")
    saves, served = [], []
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        client.post("/v1/reply", json=query)
        for i in range(n):
            got = client.get(f"/v1/kbs/{kb}/records/{answer}")
            record = got.json()["record"]
            new = re.sub(r"\d+", str(2 + i % 7), re.search(phrase, record["answer"]).group())
            record["answer"] = re.sub(phrase, new, record["answer"])
            started = time.perf_counter()
            r = client.put(f"/v1/kbs/{kb}/records/{answer}", json={"record": record, "reason": "measure"},
                           headers={"If-Match": got.headers["etag"]})
            saved = time.perf_counter()
            if r.status_code != 200:
                raise SystemExit(r.text)
            reply = client.post("/v1/reply", json=query).json()["reply"]
            done = time.perf_counter()
            if new not in reply:
                raise SystemExit(f"reply does not carry the edit: {reply}")
            saves.append((saved - started) * 1000)
            served.append((done - started) * 1000)
    print(f"{kb}: save (PUT → indexed): {percentiles(saves)}")
    print(f"save → reply with the new text: {percentiles(served)}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10, sys.argv[2] if len(sys.argv) > 2 else "mini")
