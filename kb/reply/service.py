"""Replies with optional language-model wording, checked against their sources.

Template composition is the default and needs no model. With ``KB_LLM_URL`` set,
an OpenAI-compatible endpoint rewrites the template reply in spoken style; every
amount, date, phone number and 文号 it writes must appear in a cited source,
otherwise the template reply is returned and the failed check is reported.
"""

from __future__ import annotations

import logging
import time

from kb.errors import InvalidQuery
from kb.privacy import mask
from kb.reply.calibration import Calibration
from kb.reply.composer import Reply, ReplyComposer, ReplyConfig
from kb.reply.facts import check_grounding
from kb.reply.followups import FollowUpRules
from kb.service import KnowledgeService
from kb.settings import Settings

log = logging.getLogger("kb.reply")
CALIBRATION_FILE = "reply_calibration.json"

PROMPT = (
    "你是北京12345热线民政坐席的助手。请把下面的参考答复改写成坐席可以直接念给来电人的口语化答复，"
    "只能使用参考答复和依据中出现的事实，不得增加任何金额、日期、电话、文号或条件；不确定的内容不要写。\n\n"
    "来电问题：{question}\n\n参考答复：\n{reply}\n\n依据：\n{sources}\n\n改写后的答复："
)


class ReplyService:
    def __init__(self, service: KnowledgeService, settings: Settings, classifier=None,
                 config: ReplyConfig | None = None) -> None:
        """``classifier``: the ticket model already loaded by the caller (the service's start-up), else loaded here;
        ``config``: other gates than the defaults (an evaluation's what-if; the service passes none)."""
        self.settings = settings
        rules = FollowUpRules.load(settings.corpus_dir / "followups.yaml", service.taxonomy)
        clf = classifier if classifier is not None else _load_classifier(settings, service)
        self.classifier = clf
        # Hand-set gates given for a what-if run replace the dev-fitted model rather than sit unused beside it.
        use_model = settings.reply_calibration and config is None
        calibration = Calibration.load(settings.corpus_dir / CALIBRATION_FILE) if use_model else None
        self.composer = ReplyComposer(service, rules, scope_check=_scope_check(service, clf),
                                      route=(lambda q, kb: clf.classify(q, kb, explain=False)) if clf is not None else None,
                                      config=config, calibration=calibration)
        self._llm = None

    def warm_answers(self, kb: str, pause_s: float = 0.002) -> int:
        """See ReplyComposer.warm_answers: the service runs it in the background after start-up."""
        return self.composer.warm_answers(kb, pause_s)

    def reply(self, question: str, kb: str = "minzheng", district: str | None = None, street: str | None = None) -> Reply:
        if question is not None and len(question) > self.settings.max_query_chars:
            raise InvalidQuery(f"问题过长（{len(question)} 字），上限为 {self.settings.max_query_chars} 字，请概括后再查")
        result = self.composer.compose(question, kb, district, street)
        if self.settings.llm_url and not result.escalate:
            started = time.perf_counter()
            result.generation = self._generate(result)
            result.took_ms = round(result.took_ms + (time.perf_counter() - started) * 1000, 2)
        return result

    def _generate(self, result: Reply) -> dict:
        sources = [b["excerpt"] for b in result.basis] + [b.get("title") or "" for b in result.basis] + \
                  [b.get("doc_no") or "" for b in result.basis] + [result.reply]
        try:
            # The caller's personal numbers never leave the service: the model sees the masked question.
            text = self._complete(PROMPT.format(question=mask(result.question), reply=result.reply,
                                                sources="\n".join(b["excerpt"] for b in result.basis)))
        except Exception as exc:  # noqa: BLE001 - any LLM failure falls back to the template
            log.warning("LLM generation failed: %s", type(exc).__name__)
            return {"used": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        check = check_grounding(text, sources)
        if not check.ok:
            return {"used": False, "check": check.to_json(), "rejected_text": text}
        result.reply = text.strip()
        return {"used": True, "check": check.to_json()}

    def _complete(self, prompt: str) -> str:
        if self._llm is None:
            from llama_index.llms.openai_like import OpenAILike

            self._llm = OpenAILike(model="default", api_base=self.settings.llm_url, api_key="not-needed",
                                   is_chat_model=True, temperature=0.0, timeout=20, max_retries=0)
        return str(self._llm.complete(prompt).text)


def _load_classifier(settings: Settings, service: KnowledgeService):
    from kb.classify.classifier import TicketClassifier
    from kb.classify.training import model_dir
    from kb.errors import KBError

    try:
        return TicketClassifier.load(model_dir(settings), settings.corpus_dir / "duties", service.taxonomy)
    except KBError:
        return None


def _scope_check(service: KnowledgeService, clf):
    """P(question belongs to one of the hotline's knowledge bases' industries) from the ticket classifier, or
    None when none is trained.

    The gate asks "is this another department's matter", not "which of our industries": 残疾人两项补贴 is a
    民政 matter for ticket routing, yet the 残联 library answers it too, and a 0.01 P(残联) must not escalate
    "一级残疾的护理补贴是去残联申请吗" (dev: three such questions were escalated with nothing wrong in them).
    """
    if clf is None:
        return None

    def check(question: str, kb: str) -> float:
        if kb not in service.taxonomy.industries:
            return 1.0
        return clf.industries_probability(question, service.taxonomy.industries)

    return check
