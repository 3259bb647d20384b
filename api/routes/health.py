"""GET /healthz: answers as soon as the process is up; says what is loaded and what is still loading."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.auth import get_principal
from api.deps import ReadinessDep
from kb.errors import KBError

router = APIRouter()


def _anonymous(request: Request) -> bool:
    try:
        get_principal(request)
    except KBError:
        return True
    return False


@router.get("/healthz")
def healthz(request: Request, ready: ReadinessDep) -> dict[str, Any]:
    """Open to monitors; versions, counts, embedder and Chroma URL only for a caller with a key."""
    body = _healthz(ready)
    if _anonymous(request):
        kbs = {kb: {"state": v["state"]} for kb, v in body["kbs"].items()}
        components = {name: {"state": c["state"]} for name, c in body["components"].items()}
        return {"status": body["status"], "ready": body["ready"], "loading": body["loading"], "kbs": kbs,
                "components": components}
    return body


def _healthz(ready) -> dict[str, Any]:
    """Per component (tokenizer, embedder, index:<kb>, classifier, composer): state and load seconds;
    per kb: "loading" until its index is read, then its version and counts."""
    components = {name: c.as_json() for name, c in ready.components.items()}
    service = ready.service
    if service is None:
        kbs = {name.split(":", 1)[1]: {"state": c["state"]} for name, c in components.items() if name.startswith("index:")}
        return {"status": "failed" if ready.failed else "starting", "ready": False, "loading": list(ready.loading),
                "error": ready.failed, "kbs": kbs, "components": components}
    kbs = {}
    healthy = True
    for kb in service.known_kbs():
        if ready.state_of(f"index:{kb}") == "loading":
            kbs[kb] = {"state": "loading"}
            continue
        try:
            index = service.index(kb)
        except Exception as exc:  # noqa: BLE001 - health reports every failure as state, never raises
            healthy = False
            kbs[kb] = {"state": "unavailable", "error": getattr(exc, "message", str(exc))}
            continue
        m = index.manifest
        kbs[kb] = {
            "state": "ready",
            "version": index.vid,
            "created": m.get("created"),
            "chunks": index.size,
            "vectors": m.get("vectors"),
            "documents": m.get("n_documents", len(m.get("documents", {}))),
            "counts": m.get("counts", {}),
            "embedder": m.get("embedder"),
            "chunker_version": m.get("chunker_version"),
            "chroma": m.get("chroma"),
        }
        if kb in service.load_errors:
            healthy = False
            kbs[kb]["state"] = "degraded"
            kbs[kb]["error"] = service.load_errors[kb][1]
    return {
        "status": "ok" if healthy and ready.ready else "degraded",
        "ready": ready.ready and not ready.failed,
        "loading": list(ready.loading),
        "startup_seconds": None if ready.seconds is None else round(ready.seconds, 2),
        "components": components,
        "classifier": "ready" if ready.classifier is not None else (ready.classifier_error or "loading"),
        "embedder": service.embedder.fingerprint,
        "kbs": kbs,
    }
