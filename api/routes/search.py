"""POST /v1/search: what an agent types on a call."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import ServiceDep
from api.schemas import SearchBody, SearchResponse
from kb.search import SearchRequest

router = APIRouter()


@router.post("/v1/search", response_model=SearchResponse)
async def search(body: SearchBody, service: ServiceDep) -> dict:
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
    return {
        "query": result.query,
        "kb": body.kb,
        "results": [h.to_json() for h in result.hits],
        "expansions": result.expansions,
        "took_ms": round(result.took_ms, 2),
    }
