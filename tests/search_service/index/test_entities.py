"""An indexed entity is one descriptor, and the descriptor is the one source.

Every entity in ``search_service.entities.ENTITIES`` is complete (hooks set), has
its store opened by ``Runtime.open`` (collection from its setting, its schema),
a loader that builds documents from a fixture row, the update topic the outbox
writes for it, and a BM25 key that round-trips. A third entity, defined here
over a test-only table, is served by refresh, removals, the outbox and reindex
once its descriptor is passed to the runtime: no module is edited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Integer, true
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, col, select

from indexers import CollectionSchema, Document, FilterSpec, HashingEncoder, text_hash
from indexers.store_edge import EdgeStore
from models import GigStatus, GigWrite, OutboxEvent, OutboxTopic, User, now_ms
from search_service.db import session_scope
from search_service.entities import ENTITIES, GIG_ENTITY, PROFILE_ENTITY
from search_service.gigs.service import create_gig
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS, IndexedEntity
from search_service.index.removals import schedule_removal
from search_service.index.state import get_state, set_state
from search_service.outbox import REMOVAL_TOPICS, append_event
from search_service.refresh.freshness import refresh_stale
from search_service.refresh.writer import reindex
from search_service.runtime import EntityIndex, Runtime
from search_service.settings import Settings
from tests.factories import make_student

# -- fixture rows, one per entity ------------------------------------------------


def _student(rt: Runtime) -> int:
    user = make_student(rt, clerk_id="desc_student", headline="Platypus keeper")
    assert user.id is not None
    return user.id


def _gig(rt: Runtime) -> int:
    with rt.session() as session:
        owner = User(clerk_id="desc_employer", roles=["employer"], name="Desc Co")
        session.add(owner)
        session.flush()
        gig = create_gig(
            session, rt, owner, GigWrite(title="Echidna wrangler", status=GigStatus.OPEN)
        )
        assert gig.id is not None
        return gig.id


_FIXTURE_ROWS: dict[str, Callable[[Runtime], int]] = {"profiles": _student, "gigs": _gig}
"""Entity name -> a function creating one indexable row of it (its id). An entity
added to ENTITIES without one here fails :func:`test_every_entity_has_a_fixture_row`."""


def test_every_entity_has_a_fixture_row() -> None:
    assert set(_FIXTURE_ROWS) == {e.name for e in ENTITIES}


# -- the descriptors are complete ---------------------------------------------------


def test_every_entity_is_complete_and_extends_its_static_descriptor() -> None:
    assert [e.name for e in ENTITIES] == ["profiles", "gigs"]  # the refresh order
    assert (PROFILE_ENTITY, GIG_ENTITY) == ENTITIES
    # Equality compares the static fields: each full descriptor is its static one
    # plus the hooks, so the index mechanism sees the same entity either way.
    assert PROFILE_ENTITY == PROFILE_ROWS and GIG_ENTITY == GIG_ROWS
    for entity in ENTITIES:
        hooks = (entity.loader, entity.filters, entity.facets, entity.hydrate, entity.explain)
        assert all(h is not None for h in hooks), entity.name
        # Explanations are built inside hydration today: one function for both.
        assert entity.explain is entity.hydrate
    for static in (PROFILE_ROWS, GIG_ROWS):
        assert static.loader is None and static.hydrate is None


def test_the_stored_bm25_keys_and_topics_are_the_ones_data_was_written_with() -> None:
    # index_state rows written before the descriptor existed must keep loading.
    assert (PROFILE_ROWS.bm25_key, GIG_ROWS.bm25_key) == ("bm25", "bm25:gigs")
    assert (PROFILE_ROWS.update_topic, GIG_ROWS.update_topic) == (
        OutboxTopic.PROFILE_UPDATED,
        OutboxTopic.GIG_UPDATED,
    )
    assert (PROFILE_ROWS.subject_key, GIG_ROWS.subject_key) == ("userId", "gigId")


def test_a_static_descriptor_has_no_documents(runtime: Runtime) -> None:
    with session_scope(runtime.engine) as session, pytest.raises(LookupError, match="profiles"):
        PROFILE_ROWS.documents(session, [1])


# -- the runtime opens and serves each descriptor --------------------------------------


def test_runtime_open_opens_each_entitys_store_from_its_setting_and_schema(
    settings: Settings,
) -> None:
    custom = settings.model_copy(
        update={
            "qdrant": settings.qdrant.model_copy(
                update={"collection": "p_custom", "gig_collection": "g_custom"}
            )
        }
    )
    rt = Runtime.open(custom, entities=ENTITIES, encoder=HashingEncoder(64))
    try:
        assert rt.entities == ENTITIES
        stores = []
        for entity, collection in zip(ENTITIES, ("p_custom", "g_custom"), strict=True):
            index = rt.index(entity)
            assert index is rt.index(entity.name)
            assert index.entity is entity  # the full descriptor, whatever form was asked
            store = index.store
            assert isinstance(store, EdgeStore)
            assert store.path == custom.qdrant_path / collection
            assert store.schema is entity.schema
            stores.append(store)
        assert stores[0] is not stores[1]
        # A static descriptor resolves to the full one the runtime was opened with.
        assert rt.index(GIG_ROWS).entity is GIG_ENTITY
        with pytest.raises(KeyError):
            rt.index("reputation")
    finally:
        rt.close()


def test_two_entities_of_one_name_are_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="unique"):
        Runtime.open(settings, entities=(PROFILE_ENTITY, PROFILE_ENTITY))


def test_each_loader_builds_the_documents_of_its_fixture_row(runtime: Runtime) -> None:
    for entity in runtime.entities:
        row = _FIXTURE_ROWS[entity.name](runtime)
        missing = row + 10_000
        with session_scope(runtime.engine) as session:
            docs, skipped = entity.documents(session, [row, missing])
        assert [d.id for d in docs] == [row], entity.name
        assert skipped == [missing], entity.name
        assert docs[0].payload["text_hash"] == text_hash(docs[0].text)


def _update_topics(rt: Runtime, entity: IndexedEntity, *, pending: bool) -> set[str]:
    stmt = select(OutboxEvent.topic).where(
        col(OutboxEvent.entity) == entity.name,
        col(OutboxEvent.topic).not_in(REMOVAL_TOPICS),
    )
    if pending:
        stmt = stmt.where(col(OutboxEvent.processed_at).is_(None))
    with session_scope(rt.engine) as session:
        return set(session.exec(stmt))


def test_the_outbox_writes_each_entitys_update_topic_and_refresh_closes_it(
    runtime: Runtime,
) -> None:
    for entity in runtime.entities:
        _FIXTURE_ROWS[entity.name](runtime)
        assert _update_topics(runtime, entity, pending=False) == {entity.update_topic.value}
    refresh_stale(runtime)
    for entity in runtime.entities:
        # Closed by mark_update_events_done, which matches on entity.update_topic.
        assert _update_topics(runtime, entity, pending=True) == set(), entity.name
        assert runtime.index(entity).store.count() == 1, entity.name


def test_each_entitys_bm25_parameters_round_trip_under_its_key(runtime: Runtime) -> None:
    for entity in runtime.entities:
        _FIXTURE_ROWS[entity.name](runtime)
    reindex(runtime, progress=False)
    for i, entity in enumerate(runtime.entities):
        with session_scope(runtime.engine) as session:
            recorded = get_state(session, entity.bm25_key)
            assert recorded is not None and recorded["documents"] == 1, entity.name
            assert runtime.index(entity).bm25.avg_len == recorded["avg_len"]
            set_state(session, entity.bm25_key, {"avg_len": 100.0 + i, "documents": 1})
        # A process starting now loads the encoder from that key.
        fresh = EntityIndex(entity=entity, store=runtime.index(entity).store, engine=runtime.engine)
        assert fresh.bm25.avg_len == 100.0 + i, entity.name


# -- a third entity: one descriptor plus its table ----------------------------------------


class _TestBase(SQLModel, registry=registry()):
    """Tables of this module only: kept out of the application's metadata (and so
    out of the migration checks)."""


class Note(_TestBase, table=True):
    """A test-only indexed table: a text plus the index-state columns."""

    __tablename__ = "test_descriptor_notes"

    id: int | None = Field(default=None, primary_key=True)
    body: str = ""
    deleted_at: int | None = Field(default=None, sa_column=Column(BigInteger))
    visible_updated_at: int | None = Field(default=None, sa_column=Column(BigInteger))
    embedding_updated_at: int | None = Field(default=None, sa_column=Column(BigInteger))
    privacy_floor: int | None = Field(default=None, sa_column=Column(BigInteger))
    index_lease_owner: str | None = Field(default=None, max_length=64)
    index_lease_expires_at: int | None = Field(default=None, sa_column=Column(BigInteger))
    index_attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    index_retry_at: int | None = Field(default=None, sa_column=Column(BigInteger))


@dataclass(frozen=True)
class _NoteDocument:
    id: int
    text: str
    version: int
    title: str = ""

    @property
    def payload(self) -> dict[str, Any]:
        return {"text_hash": text_hash(self.text), "updated_at": self.version}


def _note_documents(session: Session, ids: Sequence[int]) -> tuple[list[Document], list[int]]:
    rows = {n.id: n for n in session.exec(select(Note).where(col(Note.id).in_(list(ids))))}
    docs: list[Document] = []
    skipped: list[int] = []
    for i in ids:
        note = rows.get(i)
        if note is None or note.deleted_at is not None:
            skipped.append(i)
        else:
            docs.append(_NoteDocument(i, note.body, note.visible_updated_at or 0))
    return docs, skipped


NOTES = IndexedEntity(
    name="notes",
    model=Note,
    searchable=lambda now=None: (col(Note.deleted_at).is_(None),),
    has_document=lambda: (true(),),
    schema=CollectionSchema(keyword_fields=()),
    collection=lambda settings: "test_notes",
    bm25_key="bm25:notes",
    update_topic=OutboxTopic.PROFILE_UPDATED,  # any topic: events are matched per entity too
    subject_key="noteId",
    item="note",
    loader=_note_documents,
)


@pytest.fixture
def with_notes(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.open(settings, entities=(*ENTITIES, NOTES), encoder=HashingEncoder(64))
    Note.metadata.create_all(rt.engine)
    try:
        yield rt
    finally:
        Note.metadata.drop_all(rt.engine)
        rt.close()


def _notes(rt: Runtime) -> dict[int, Note]:
    with session_scope(rt.engine) as session:
        return {n.id or 0: n for n in session.exec(select(Note))}


def test_a_third_entity_is_one_descriptor_passed_to_the_runtime(with_notes: Runtime) -> None:
    rt = with_notes
    assert [e.name for e in rt.entities] == ["profiles", "gigs", "notes"]
    ts = now_ms()
    with rt.session() as session:
        notes = [Note(body=b, visible_updated_at=ts) for b in ("wombat burrow", "quokka smile")]
        session.add_all(notes)
        session.flush()
        keep, drop = (n.id or 0 for n in notes)
        append_event(
            session, NOTES.update_topic, keep, {}, user_version=ts, entity=NOTES.name, now=ts
        )
    # The refresh job leases, loads, writes and verifies the new entity's rows...
    report = refresh_stale(rt)
    assert report.indexed == 2
    store = rt.index(NOTES).store
    assert store.count() == 2
    assert {i: n.embedding_updated_at for i, n in _notes(rt).items()} == {keep: ts, drop: ts}
    assert rt.index(PROFILE_ROWS).store.count() == 0  # in its own collection only
    assert _update_topics(rt, NOTES, pending=True) == set()  # its update event closed
    # ... a removal deletes its point right after the commit, named by its subject key...
    with rt.session() as session:
        note = session.get(Note, drop)
        assert note is not None
        note.deleted_at = now_ms()
        session.add(note)
        schedule_removal(session, drop, "test", entity=NOTES)
    assert [h.id for h in store.browse(FilterSpec(), limit=10, offset=0)] == [keep]
    with session_scope(rt.engine) as session:
        event = session.exec(
            select(OutboxEvent).where(
                col(OutboxEvent.entity) == "notes", col(OutboxEvent.topic) == "index.remove"
            )
        ).one()
    assert event.payload == {"noteId": drop, "reason": "test"} and event.processed_at is not None
    assert _notes(rt)[drop].embedding_updated_at is None
    # ... and a reindex records its BM25 parameters under its own key.
    reindex(rt, entities=[NOTES], progress=False)
    with session_scope(rt.engine) as session:
        state = get_state(session, "bm25:notes")
    assert state is not None and state["documents"] == 1
    assert rt.index("notes").bm25.avg_len == state["avg_len"]


def test_a_full_reindex_serves_the_third_entity_too(with_notes: Runtime) -> None:
    # A full reindex serves every entity of the runtime, the new one included.
    _student(with_notes)
    with with_notes.session() as session:
        session.add(Note(body="numbat", visible_updated_at=now_ms()))
    report = reindex(with_notes, progress=False)
    assert report.indexed == 2
    counts = {e.name: with_notes.index(e).store.count() for e in with_notes.entities}
    assert counts == {"profiles": 1, "gigs": 0, "notes": 1}


def test_an_entity_is_replaceable_per_runtime(settings: Settings) -> None:
    # The runtime serves the descriptors it is given: a changed hook takes effect
    # without touching a module (here: a loader that indexes nothing).
    def nothing(session: Session, ids: Sequence[int]) -> tuple[list[Document], list[int]]:
        return [], list(ids)

    quiet = replace(PROFILE_ENTITY, loader=nothing)
    rt = Runtime.open(settings, entities=(quiet, GIG_ENTITY), encoder=HashingEncoder(64))
    try:
        _student(rt)
        assert refresh_stale(rt).indexed == 0
        assert rt.index(PROFILE_ROWS).store.count() == 0
    finally:
        rt.close()
