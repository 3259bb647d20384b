"""POST /v1/search: what an agent types on a call."""

from __future__ import annotations

from pathlib import PurePath

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import ServiceDep
from api.recording import index_version, remember
from api.schemas import ERRORS, SearchBody, SearchResponse
from kb.interactions import Interaction
from kb.search import SearchRequest

router = APIRouter()


def public_source(source: str, corpus_dir: PurePath) -> str:
    """The source without the server's directory layout: relative to the corpus folder, else the file name.

    The index stores absolute paths for re-ingestion; callers only need to recognise the document.
    """
    path, sep, anchor = source.partition("#")
    p = PurePath(path)
    if not p.is_absolute():
        return source if ".." not in p.parts else p.name + sep + anchor
    try:
        rel = p.relative_to(corpus_dir)
    except ValueError:
        rel = PurePath(p.name)
    return rel.as_posix() + sep + anchor


@router.post("/v1/search", response_model=SearchResponse, responses=ERRORS)
async def search(body: SearchBody, service: ServiceDep, http: Request, background: BackgroundTasks) -> dict:
    request = SearchRequest(
        query=body.query,
        top_k=body.top_k,
        libraries=body.libraries,
        topics=body.topics,
        district=body.district,
        include_repealed=body.include_repealed,
        include_pending=body.include_pending,
    )
    result = await run_in_threadpool(service.search, body.kb, request)
    corpus = service.settings.corpus_dir.resolve()
    results = []
    for hit in result.hits:
        item = hit.to_json()
        item["source"] = public_source(str(item.get("source") or ""), corpus)
        results.append(item)
    shown = {"ids": [h.chunk.id for h in result.hits], "titles": [h.chunk.title for h in result.hits]}
    remember(http, background, [Interaction(body.kb, "result", body.query, shown)], index_version(http, body.kb))
    return {
        "query": result.query,
        "kb": body.kb,
        "results": results,
        "expansions": result.expansions,
        "took_ms": round(result.took_ms, 2),
    }
