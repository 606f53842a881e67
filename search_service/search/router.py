"""``POST /v1/search``: employer search over student profiles."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from models import SearchRequest, SearchResponse
from search_service.deps import CurrentEmployer, RuntimeDep, SessionDep
from search_service.search.service import search_profiles

router = APIRouter(prefix="/v1", tags=["search"])


@router.post(
    "/search",
    response_model=SearchResponse,
    response_model_by_alias=True,
    summary="Rank student profiles for an employer's need",
)
async def search_candidates(
    body: SearchRequest, rt: RuntimeDep, session: SessionDep, _caller: CurrentEmployer
) -> SearchResponse:
    """Hybrid (default), keyword (BM25) or semantic search with filters and explanations."""
    return await run_in_threadpool(search_profiles, rt, session, body)
