"""GET /healthz: is each knowledge base loaded, how big, built by which embedder."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServiceDep

router = APIRouter()


@router.get("/healthz")
def healthz(service: ServiceDep) -> dict:
    kbs = {}
    healthy = True
    for kb in service.known_kbs():
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
            "documents": len(m.get("documents", {})),
            "counts": m.get("counts", {}),
            "embedder": m.get("embedder"),
            "chunker_version": m.get("chunker_version"),
            "chroma": m.get("chroma"),
        }
    return {
        "status": "ok" if healthy else "degraded",
        "embedder": service.embedder.fingerprint,
        "kbs": kbs,
    }
