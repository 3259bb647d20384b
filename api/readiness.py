"""Start-up in the background: the process answers /healthz at once and loads its parts in a thread.

A request that needs a part still loading gets a 503 with a Chinese message
instead of waiting behind the load; /healthz says what is still loading.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kb.settings import Settings

log = logging.getLogger("kb.api")

NOT_READY = "服务正在启动，{part}尚未加载完成，请稍后再试"


@dataclass
class Readiness:
    settings: Settings
    service: Any = None
    classifier: Any = None
    classifier_error: str = ""
    composer: Any = None
    kb_errors: dict[str, str] = field(default_factory=dict)
    loading: list[str] = field(default_factory=lambda: ["knowledge_service", "knowledge_bases", "classifier", "reply"])
    failed: str | None = None
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None
    thread: threading.Thread | None = None
    after: list = field(default_factory=list)  # callables run once everything has loaded (the console's assistant)

    @property
    def ready(self) -> bool:
        return not self.loading

    def load(self) -> None:
        """Build every part in order; each is published only when complete."""
        from kb.reply.service import ReplyService
        from kb.service import KnowledgeService

        try:
            service = KnowledgeService(self.settings)
            self.loading.remove("knowledge_service")
            self.kb_errors = service.warm()
            for kb, message in self.kb_errors.items():
                log.warning("knowledge base %s not loaded: %s", kb, message)
            self.service = service
            self.loading.remove("knowledge_bases")
            self.classifier, self.classifier_error = _load_classifier(self.settings, service)
            self.loading.remove("classifier")
            self.composer = ReplyService(service, self.settings, self.classifier)  # one model in memory, not two
            self.loading.remove("reply")
        except Exception as exc:  # noqa: BLE001 - reported by /healthz; the process stays up to say so
            self.failed = getattr(exc, "message", f"{type(exc).__name__}: {exc}")
            log.exception("start-up failed")
            return
        for hook in self.after:
            try:
                hook()
            except Exception:  # noqa: BLE001 - a failed extra is logged; the core service stays up
                log.exception("start-up hook failed")
        self.seconds = time.monotonic() - self.started
        log.info("service ready in %.1f s", self.seconds)

    def start(self) -> None:
        self.thread = threading.Thread(target=self.load, name="kb-startup", daemon=True)
        self.thread.start()


def _load_classifier(settings: Settings, service) -> tuple[Any, str]:
    from kb.classify.classifier import TicketClassifier
    from kb.classify.training import model_dir
    from kb.errors import KBError

    try:
        return TicketClassifier.load(model_dir(settings), settings.corpus_dir / "duties", service.taxonomy), ""
    except KBError as exc:
        log.warning("ticket classifier not loaded: %s", exc.message)
        return None, exc.message
