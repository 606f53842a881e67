"""Keyword-only factories for the indexers tests, split by aggregate.

Profiles (``make_rows``) build the database rows a document is made of; points
(``make_points``) build what the vector store holds, from plain texts; stores
(``make_store``) are empty adapters of either kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient

from indexers import (
    PROFILE_SCHEMA,
    Bm25Encoder,
    CollectionSchema,
    HashingEncoder,
    IndexPoint,
    ProfileRows,
    VectorStore,
)
from indexers.store_client import ClientStore
from indexers.store_edge import EdgeStore
from models import Education, Language, Profile, Project, Skill, User, WorkExperience

# --- profiles ------------------------------------------------------------------------


def make_user(*, user_id: int | None = 1, updated_at: int = 1_700_000_000_000) -> User:
    """A user row; ``user_id=None`` is a user not flushed yet."""
    return User(
        id=user_id,
        clerk_id=f"user_{user_id}",
        updated_at=updated_at,
        visible_updated_at=updated_at,
    )


def make_profile(
    *,
    user_id: int = 1,
    headline: str = "",
    bio: str = "",
    location: str | None = None,
    availability: str | None = None,
    visibility: Mapping[str, str] | None = None,
) -> Profile:
    """A profile row; ``visibility`` overrides single sections of the default map."""
    profile = Profile(
        user_id=user_id,
        headline=headline,
        bio=bio,
        location=location,
        availability=availability,
    )
    if visibility:
        profile.visibility = {**profile.visibility, **visibility}
    return profile


def make_rows(
    *,
    user_id: int | None = 1,
    updated_at: int = 1_700_000_000_000,
    headline: str = "",
    bio: str = "",
    location: str | None = None,
    availability: str | None = None,
    visibility: Mapping[str, str] | None = None,
    skills: Sequence[str] = (),
    languages: Sequence[str] = (),
    work: Sequence[WorkExperience] = (),
    projects: Sequence[Project] = (),
    education: Sequence[Education] = (),
) -> ProfileRows:
    """Rows of one user: skills and languages by name, other sections as model objects."""
    uid = user_id if user_id is not None else 0
    return ProfileRows(
        user=make_user(user_id=user_id, updated_at=updated_at),
        profile=make_profile(
            user_id=uid,
            headline=headline,
            bio=bio,
            location=location,
            availability=availability,
            visibility=visibility,
        ),
        skills=[Skill(user_id=uid, name=name, position=i) for i, name in enumerate(skills)],
        languages=[
            Language(user_id=uid, name=name, position=i) for i, name in enumerate(languages)
        ],
        work_experience=list(work),
        projects=list(projects),
        education=list(education),
    )


# --- points --------------------------------------------------------------------------


def make_points(
    *,
    texts: Mapping[int, str],
    bm25: Bm25Encoder,
    dense: HashingEncoder,
    payloads: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[IndexPoint]:
    """One point per ``id -> text``: hashing dense vector, BM25 weights, given payload."""
    ids = list(texts)
    vectors = dense.encode_documents([texts[i] for i in ids])
    return [
        IndexPoint(
            id=pid,
            dense=vectors[row],
            sparse=bm25.encode_document(texts[pid]),
            payload=dict((payloads or {}).get(pid, {})),
        )
        for row, pid in enumerate(ids)
    ]


# --- stores --------------------------------------------------------------------------

DIM = 32
"""Dense dimension of the hashing encoder used by the store and pipeline tests."""


def make_store(
    kind: str, tmp_path: Path, *, schema: CollectionSchema = PROFILE_SCHEMA
) -> VectorStore:
    """An empty store, collection not created, of adapter ``kind`` (``edge`` or ``client``)."""
    if kind == "edge":
        return EdgeStore(tmp_path / "shard", schema=schema)
    return ClientStore(QdrantClient(":memory:"), "profiles", schema=schema)


# --- warnings ------------------------------------------------------------------------

LOCAL_QDRANT_PAYLOAD_INDEX_WARNING = pytest.mark.filterwarnings(
    # qdrant-client's local mode (":memory:") warns that payload indexes are no-ops
    # each time ClientStore.ensure_collection creates one; the adapter is right to
    # create them for a real server, so the warning is expected noise here.
    "ignore:Payload indexes have no effect in the local Qdrant:UserWarning"
)
