"""The full descriptors of the indexed entities: the one place an entity is put
together.

``search_service.index.entity`` holds each entity's static fields (table, SQL
rules, schema, collection setting, BM25 key, outbox topic); this module adds
the hooks that live in the domains above the index (document loader, filter
builder, facets, hydrator) and lists every entity in :data:`ENTITIES`, the order
the refresh job serves them. It is a top-level module like ``app.py``: it
imports the search code, so the layered domains (and ``runtime.py``, which they
import) never import it. The composition roots (``app.py``, ``cli.py``, the
benchmarks, the tests) pass :data:`ENTITIES` to ``Runtime.open``, and everything
else reaches a descriptor through ``Runtime.index(entity)``.

A third entity is one descriptor here (plus its table with the index-state
columns, its migration, and its hooks), appended to :data:`ENTITIES`.
"""

from __future__ import annotations

from dataclasses import replace

from search_service.gigs.documents import gig_documents
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS, IndexedEntity
from search_service.profiles.documents import profile_documents
from search_service.search.gigs import GIG_FACETS, gig_filter_spec, hydrate_gigs
from search_service.search.service import PROFILE_FACETS, filter_spec, hydrate_profiles

__all__ = ["ENTITIES", "GIG_ENTITY", "PROFILE_ENTITY"]

PROFILE_ENTITY: IndexedEntity = replace(
    PROFILE_ROWS,
    loader=profile_documents,
    filters=filter_spec,
    facets=PROFILE_FACETS,
    hydrate=hydrate_profiles,
    explain=hydrate_profiles,
)
"""Profiles, complete: employer search over students' profiles."""

GIG_ENTITY: IndexedEntity = replace(
    GIG_ROWS,
    loader=gig_documents,
    filters=gig_filter_spec,
    facets=GIG_FACETS,
    hydrate=hydrate_gigs,
    explain=hydrate_gigs,
)
"""Gigs, complete: students' search over open gigs."""

ENTITIES: tuple[IndexedEntity, ...] = (PROFILE_ENTITY, GIG_ENTITY)
"""Every indexed entity, in the order the refresh job serves them."""
