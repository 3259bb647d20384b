"""Start-up in the background: the process answers /healthz at once and loads its parts in a thread.

The parts a search needs come first (tokenizer and embedder side by side, then each knowledge base's
index), so the first search answers while the ticket classifier is still loading; the reply composer
follows the classifier because its in-scope check uses it. The classifier is read from its compact
numpy file (kb/classify/persist.py: no scikit-learn or SciPy import, ~0.4 CPU-s instead of ~4). Every part is a component with
its own state and load time, reported by /healthz.

A request that needs a part still loading gets a 503 at once, with a Chinese message naming that
part, instead of waiting behind the load. One exception, by design: once the tokenizer and embedder
are up, a search on a knowledge base whose index is still being read waits for that read (it takes
well under a second at sample size and is the same work the request would do on a reload).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kb.settings import Settings

WARM_ANSWERS_DELAY_S = 2.0
log = logging.getLogger("kb.api")

NOT_READY = "服务正在启动，{part}尚未加载完成，请稍后再试"
State = Literal["loading", "ready", "failed", "absent"]

# Component → the words a 503 uses for it.
PART_NAMES = {"tokenizer": "分词器", "embedder": "向量模型", "classifier": "工单分类模型", "composer": "答复生成模块"}


@dataclass
class Component:
    state: State = "loading"
    seconds: float | None = None
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "seconds": self.seconds}
        if self.error:
            out["error"] = self.error
        return out


def index_component(kb: str) -> str:
    return f"index:{kb}"


@dataclass
class Readiness:
    settings: Settings
    service: Any = None
    classifier: Any = None
    classifier_error: str = ""
    composer: Any = None
    kb_errors: dict[str, str] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)
    failed: str | None = None
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None
    thread: threading.Thread | None = None
    after: list = field(default_factory=list)  # callables run once everything has loaded (the console's assistant)

    def __post_init__(self) -> None:
        from kb.service import known_kbs

        names = ["tokenizer", "embedder", *(index_component(kb) for kb in known_kbs(self.settings)),
                 "classifier", "composer"]
        self.components = {name: Component() for name in names}

    @property
    def loading(self) -> list[str]:
        return [name for name, c in self.components.items() if c.state == "loading"]

    @property
    def ready(self) -> bool:
        return not self.loading

    def state_of(self, name: str) -> State:
        return self.components[name].state if name in self.components else "absent"

    def _timed(self, name: str, build):
        """Run ``build`` as component ``name``: its state and seconds are recorded, its result returned."""
        started = time.monotonic()
        result = build()
        self.components.setdefault(name, Component())
        self.components[name].seconds = round(time.monotonic() - started, 3)
        self.components[name].state = "ready"
        return result

    def _beside(self, name: str, build) -> Callable[[], None]:
        """Start component ``name`` in its own thread; the returned call waits for it and re-raises its error."""
        errors: list[BaseException] = []

        def run() -> None:
            try:
                self._timed(name, build)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which reports it
                errors.append(exc)

        thread = threading.Thread(target=run, name=f"kb-startup-{name}", daemon=True)
        thread.start()

        def wait() -> None:
            thread.join()
            if errors:
                raise errors[0]

        return wait

    def load(self) -> None:
        """Build every part in order of need; each is published only when complete."""
        try:
            self._load_search()
            self._load_reply()
        except Exception as exc:  # noqa: BLE001 - reported by /healthz; the process stays up to say so
            self.failed = getattr(exc, "message", f"{type(exc).__name__}: {exc}")
            for component in self.components.values():
                if component.state == "loading":
                    component.state, component.error = "failed", self.failed
            log.exception("start-up failed")
            return
        for hook in self.after:
            try:
                hook()
            except Exception:  # noqa: BLE001 - a failed extra is logged; the core service stays up
                log.exception("start-up hook failed")
        self.seconds = time.monotonic() - self.started
        if self.classifier is not None:
            try:
                _write_compact(self.settings, self.classifier.model)
            except Exception:  # noqa: BLE001 - the joblib model keeps serving; the next start tries again
                log.exception("compact classifier not written")
        log.info("service ready in %.1f s: %s", self.seconds,
                 ", ".join(f"{n} {c.seconds}s" for n, c in self.components.items()))
        threading.Thread(target=self._warm_answers, name="kb-warm-answers", daemon=True).start()

    def _warm_answers(self) -> None:
        """The rest, in the background once the service answers: each kb's standard answers segmented.

        It starts a little after readiness, so that the first callers, who arrive as soon as /healthz says
        ready, do not share the interpreter with it."""
        if self.composer is None or self.service is None:
            return
        time.sleep(WARM_ANSWERS_DELAY_S)
        for kb in self.service.known_kbs():
            if kb in self.kb_errors:
                continue
            try:
                started = time.monotonic()
                count = self.composer.warm_answers(kb)
                log.info("answers of %s segmented in the background: %d in %.1f s", kb, count, time.monotonic() - started)
            except Exception:  # noqa: BLE001 - a cache left cold only costs the first replies a few ms
                log.exception("background segmentation of %s's answers failed", kb)

    def _load_search(self) -> None:
        from kb.embedding import get_embedder
        from kb.service import KnowledgeService
        from kb.tokenize import get_tokenizer

        s = self.settings
        # The embedder loads beside the tokenizer: its model runs in native code without the GIL, so on
        # two cores jieba's dictionary read (GIL-bound) and the model's load overlap instead of adding up.
        embedder = self._beside("embedder", lambda: get_embedder(s).embed_query("预热"))
        self._timed("tokenizer", lambda: get_tokenizer(s.corpus_dir, s.data_dir / "cache").tokens("预热"))
        embedder()
        service = KnowledgeService(s)
        self.service = service  # searches may start: an index not yet read is read by the first request for it
        for kb in service.known_kbs():
            name = index_component(kb)
            started = time.monotonic()
            error = service.warm_one(kb)
            self.components.setdefault(name, Component())
            self.components[name].seconds = round(time.monotonic() - started, 3)
            if error:
                self.kb_errors[kb] = error
                self.components[name].state, self.components[name].error = "failed", error
                log.warning("knowledge base %s not loaded: %s", kb, error)
            else:
                self.components[name].state = "ready"

    def _load_reply(self) -> None:
        from kb.reply.service import ReplyService

        classifier, self.classifier_error = self._timed("classifier", lambda: _load_classifier(self.settings, self.service))
        if classifier is None:
            self.components["classifier"].state = "absent"
            self.components["classifier"].error = self.classifier_error
        self.classifier = classifier
        # One model in memory, not two: the composer reuses the classifier just loaded.
        self.composer = self._timed("composer", lambda: ReplyService(self.service, self.settings, classifier))

    def start(self) -> None:
        self.thread = threading.Thread(target=self.load, name="kb-startup", daemon=True)
        self.thread.start()


def _load_classifier(settings: Settings, service) -> tuple[Any, str]:
    """The ticket classifier from its compact file (no scikit-learn import; kb/classify/persist.py).

    The model folder is spelled here rather than imported from kb.classify.training, whose import
    pulls scikit-learn's metrics (~3 CPU-s) into a process that only serves.
    """
    from kb.classify.classifier import TicketClassifier
    from kb.classify.persist import share_tokenizer
    from kb.errors import KBError

    try:
        classifier = TicketClassifier.load(classifier_dir(settings), settings.corpus_dir / "duties", service.taxonomy)
    except KBError as exc:
        log.warning("ticket classifier not loaded: %s", exc.message)
        return None, exc.message
    share_tokenizer(classifier.model, settings.corpus_dir, settings.data_dir / "cache")
    return classifier, ""


def _write_compact(settings: Settings, model) -> None:
    """A model saved before the compact form existed is served from joblib this once; writing its
    compact file now (after everything is up) makes the next start fast without retraining."""
    from kb.classify.persist import Union, compact_path, export

    if isinstance(model.vectorizer, Union):
        return
    folder = classifier_dir(settings)
    path = folder / (folder / "CURRENT").read_text(encoding="utf-8").strip()
    if path.name == f"{model.version}.joblib" and not compact_path(path).exists():
        written = export(model, path)
        log.info("compact classifier %s", f"written: {written.name}" if written else "not possible for this model")


def classifier_dir(settings: Settings):
    """kb.classify.training.model_dir, without importing training (tests/test_coldstart.py checks they agree)."""
    return settings.data_dir / "models" / "classifier"
