"""Shared fixtures: real indexes (real Chroma on disk, real bundled embedder).

Vectors are cached by text in the project's embedding cache (filled by
scripts/setup.sh), so building an index here costs tokenisation and Chroma
writes, not embedding.

The browser tests' harness lives here too, so that the four browser files share one
chromium for the session, one server over the sample index, one page helper and one
place their timings are written.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


# ---- browser harness: chromium, a served app, pages, timings --------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).parent / "screenshots"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
_TIMINGS: dict[str, dict] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def uvicorn_server(app) -> Iterator[tuple[str, object]]:
    """(base URL, uvicorn server) of ``app`` served on a free loopback port in a thread, for the block's length."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive(), "uvicorn exited before it started"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", srv
    finally:
        srv.should_exit = True
        thread.join(10)


def save_timings(name: str, **figures) -> None:
    """Add ``figures`` to tests/screenshots/``name`` and rewrite the file at once.

    Written at each call rather than at teardown, so an interrupted run keeps what it measured; the
    first call of a session replaces the previous run's file.
    """
    values = _TIMINGS.setdefault(name, {})
    values.update(figures)
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / name).write_text(json.dumps(values, ensure_ascii=False, indent=1), encoding="utf-8")


@pytest.fixture(scope="session")
def browser():
    """One headless Debian chromium for the whole session; each test gets its own context (cookies, storage)."""
    if not CHROMIUM.exists():
        pytest.skip("需要 /usr/bin/chromium（Debian chromium 包）才能运行浏览器测试")
    api = pytest.importorskip("playwright.sync_api", reason="需要安装 playwright（pip install playwright）")
    SHOTS.mkdir(exist_ok=True)
    with api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def sample_server(sample_settings, sample_classifier):
    """(base URL, uvicorn server) of the real app over the session's sample index, one per test file.

    Per file rather than per session: other files change the sample store through their own app between the
    browser files, and a fresh app here starts from what they left, as a restarted service would.
    """
    from api.app import create_app

    with uvicorn_server(create_app(sample_settings)) as served:
        yield served


def new_page(browser, base_url: str, settings: Settings | None, role: str | None, *, height: int = 768,
             expected: re.Pattern[str] | None = None, **context_options):
    """A page in a fresh browser context, logged in as a real key of ``role`` (none when ``role`` is None).

    ``page.errors`` collects console errors and uncaught page errors except those ``expected`` matches;
    callers assert it is empty when they are done and close ``page.context``.
    """
    context = browser.new_context(viewport={"width": 1366, "height": height}, locale="zh-CN", **context_options)
    if role is not None:
        # A real session: the cookie the login sets is shared by the context's pages and WebSocket.
        r = context.request.post(base_url + "/v1/login", data={"key": key_for(settings, f"test-{role}", role)})
        assert r.status == 200, r.text()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not (expected and expected.search(m.text)) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    return page


def open_console(page, url: str) -> float:
    """Open the agent console at ``url`` and wait until its district picker is filled; milliseconds."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('#district option').length === 17")
    return (time.perf_counter() - started) * 1000


def ask(page, text: str) -> None:
    """Type a question into the console and wait for the page to paint its answer (after the 250 ms debounce)."""
    before = page.evaluate("document.body.dataset.painted || '0'")
    page.fill("#q", text)
    page.wait_for_function(f"(document.body.dataset.painted || '0') !== '{before}'", timeout=20000)
