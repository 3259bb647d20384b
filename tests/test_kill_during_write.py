"""SIGKILL in the middle of edits: the store stays consistent, the index stays loadable, the next publish catches up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import func, select

from ingest.pipeline import run_ingest
from kb.index import IndexLayout
from kb.publish import Publisher, indexed_generation
from kb.search import SearchRequest
from kb.service import KnowledgeService
from kb.settings import PROJECT_ROOT
from kb.store import records, revisions
from kb.storefactory import open_store

WRITER = textwrap.dedent("""
    import sys
    from kb.editing import RecordEditor
    from kb.settings import Settings
    from kb.storefactory import open_store
    s = Settings(data_dir=sys.argv[1], embed_cache=sys.argv[2], kbs=["mini"])
    store = open_store(s)
    editor = RecordEditor(s, store)
    i = 0
    while True:
        i += 1
        content = dict(store.get("mini", "t-ans-allowance-002").content)
        content["answer"] = content["answer"].split("（编号")[0] + f"（编号{i}）"
        editor.update("mini", "t-ans-allowance-002", content, "killer", f"第{i}次", None)
        print(i, flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.4, 1.3, 2.2])
def test_kill_during_writes_leaves_a_consistent_store_and_a_live_index(mini_settings, mini_corpus, tmp_path, delay):
    run_ingest(mini_settings, "mini", [mini_corpus])
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(mini_settings.data_dir), str(mini_settings.embed_cache_path)],
                            cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    store = open_store(mini_settings)
    with store.engine.connect() as c:
        current = c.execute(select(records.c.revision).where(records.c.id == "t-ans-allowance-002")).scalar_one()
        latest = c.execute(select(func.max(revisions.c.revision)).where(revisions.c.record_id == "t-ans-allowance-002")).scalar_one()
    assert current == latest, "a revision without its record update (or the reverse) survived the kill"
    assert store.verify_audit()[1] == []
    assert len(store.audit_entries(kb="mini", record_id="t-ans-allowance-002")) == current
    layout = IndexLayout(mini_settings.data_dir, "mini")
    assert KnowledgeService(mini_settings).index("mini").vid == layout.current()  # the live version loads
    Publisher(mini_settings, store).reindex_if_behind("mini")
    assert indexed_generation(mini_settings, "mini") == store.generation("mini")
    expected = store.get("mini", "t-ans-allowance-002").content["answer"]
    hit = KnowledgeService(mini_settings).search("mini", SearchRequest("高龄津贴去哪里申请", libraries=["answer"])).hits[0]
    assert hit.chunk.text == expected


def test_ingest_killed_at_random_moments_leaves_a_complete_version_and_recovers(mini_corpus, tmp_path):
    """Bounded run of scripts/kill_trials.py (50 trials there)."""
    from eval.killtrials import run_trials
    from tests.conftest import SHARED_CACHE

    report = run_trials(3, "mini", mini_corpus, tmp_path / "work", "answers/elderly.yaml", "街道在10个工作日内完成审核",
                        "t-ans-allowance-002", "高龄津贴去哪里申请", seed=7, cache=SHARED_CACHE)
    assert report.failures == []
    assert (report.trials, report.survived) == (2, 2)
