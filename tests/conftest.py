"""Shared fixtures: real indexes (real Chroma on disk, real bundled embedder).

Vectors are cached by text in the project's embedding cache (filled by
scripts/setup.sh), so building an index here costs tokenisation and Chroma
writes, not embedding.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.pipeline import run_ingest
from kb.settings import PROJECT_ROOT, Settings

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini"
SHARED_CACHE = PROJECT_ROOT / "data" / "embed_cache.sqlite"
EXTERNAL = PROJECT_ROOT.parent / "shared" / "external"


def make_settings(data_dir: Path, **overrides) -> Settings:
    return Settings(data_dir=data_dir, embed_cache=SHARED_CACHE, corpus_dir=PROJECT_ROOT / "corpus", **overrides)


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory) -> Settings:
    """Both sample knowledge bases, built once per test session."""
    settings = make_settings(tmp_path_factory.mktemp("sample"))
    for kb in settings.kbs:
        summary = run_ingest(settings, kb, [settings.corpus_dir / kb])
        assert summary.rejections == [], [str(r) for r in summary.rejections]
    return settings


@pytest.fixture(scope="session")
def sample_service(sample_settings):
    from kb.service import KnowledgeService

    return KnowledgeService(sample_settings)


@pytest.fixture()
def mini_corpus(tmp_path) -> Path:
    """A private, writable copy of the small test corpus."""
    target = tmp_path / "mini"
    shutil.copytree(MINI, target)
    return target


@pytest.fixture()
def mini_settings(tmp_path) -> Settings:
    return make_settings(tmp_path / "data", kbs=["mini"])


@dataclass
class MiniEditing:
    """The mini kb ingested, with a service and an editor that tells the service about each write."""

    settings: Settings
    store: object
    service: object
    editor: object
    layout: object


@pytest.fixture()
def mini_editing(mini_settings, mini_corpus) -> MiniEditing:
    from kb.editing import RecordEditor
    from kb.index import IndexLayout
    from kb.service import KnowledgeService
    from kb.storefactory import open_store

    run_ingest(mini_settings, "mini", [mini_corpus])
    store = open_store(mini_settings)
    service = KnowledgeService(mini_settings)
    editor = RecordEditor(mini_settings, store, on_indexed=service.invalidate)
    return MiniEditing(mini_settings, store, service, editor, IndexLayout(mini_settings.data_dir, "mini"))


@pytest.fixture(scope="session")
def sample_classifier(sample_settings):
    """One model configuration (the one training chooses on dev), trained into the sample data dir."""
    from kb.classify.classifier import TicketClassifier
    from kb.classify.departments import DepartmentModel
    from kb.classify.kbexamples import kb_examples
    from kb.classify.model import TicketModel, WordAnalyzer
    from kb.classify.training import load_split, model_dir
    from kb.taxonomy import cached_taxonomy

    s = sample_settings
    train, extra = load_split(s, "train"), kb_examples(s.corpus_dir)
    model = TicketModel.fit(train, WordAnalyzer(s.corpus_dir, s.data_dir / "cache"), extra, 0.3, 5.0)
    model.calibrate(load_split(s, "dev"))
    model.department_model = DepartmentModel.fit(model.features, train, extra)
    model.review_threshold = 0.75
    model.save(model_dir(s))
    return TicketClassifier.load(model_dir(s), s.corpus_dir / "duties", cached_taxonomy(s.taxonomy_path))


def key_for(settings: Settings, name: str, role: str) -> str:
    """A real key of this role in the settings' store (created once per name)."""
    from kb.keys import KeyStore
    from kb.storefactory import open_store

    keys = KeyStore(open_store(settings))
    cache = settings.data_dir / f".test-key-{name}"
    if cache.exists():
        return cache.read_text(encoding="utf-8")
    key = keys.create(name, role, actor="tests")
    cache.write_text(key, encoding="utf-8")
    return key


def api_client(settings: Settings, role: str = "agent"):
    """A TestClient over the real app that authenticates as a key of ``role``."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {key_for(settings, f'test-{role}', role)}"
    return client
