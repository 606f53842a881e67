"""Seeded demo gigs (``search_service.gigs.demo``) and what ``gigsy-search demo`` prints
and loads: deterministic output, plausible shapes, idempotent loading, and gigs a demo
student is recommended (hashing encoder)."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from models import Gig, GigStatus, PayUnit, User
from search_service.app import create_app
from search_service.cli import app
from search_service.db import session_scope
from search_service.gigs.demo import (
    DAY_MS,
    DEMO_COMPANIES,
    DEMO_EMPLOYER_CLERK_ID,
    DemoVocabulary,
    generate_demo_gigs,
    load_demo_gigs,
)
from search_service.gigs.ingest import GigImport
from search_service.profiles import demo_vocab
from search_service.profiles.demo import load_demo
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.search.recommend import recommended_gigs
from search_service.settings import EmbeddingSettings, QdrantSettings, Settings

VOCAB = DemoVocabulary(
    tracks=demo_vocab.TRACKS, cities=demo_vocab.CITIES, skill_labels=demo_vocab.SKILL_LABELS
)
NOW = 1_790_000_000_000  # 2026-09-21T14:13:20Z
TODAY = NOW - NOW % DAY_MS
EURO_COUNTRIES: tuple[str, ...] = ("Germany", "Netherlands", "Belgium", "France", "Spain")
EURO_COUNTRIES += ("Italy", "Portugal", "Austria", "Finland", "Ireland")


def _dump(gigs: list[GigImport]) -> list[tuple[str, str, dict[str, object]]]:
    return [(g.external_id, g.employer.clerk_id, g.body.model_dump(mode="json")) for g in gigs]


@pytest.fixture(scope="module")
def gigs() -> list[GigImport]:
    return generate_demo_gigs(VOCAB, 60, seed=42, now=NOW)


class TestGeneration:
    def test_same_seed_and_day_give_identical_gigs(self) -> None:
        first = _dump(generate_demo_gigs(VOCAB, 60, seed=3, now=NOW))
        later_that_day = TODAY + DAY_MS - 1
        assert first == _dump(generate_demo_gigs(VOCAB, 60, seed=3, now=later_that_day))

    def test_seed_and_day_change_the_gigs(self) -> None:
        base = _dump(generate_demo_gigs(VOCAB, 30, seed=1, now=NOW))
        assert base != _dump(generate_demo_gigs(VOCAB, 30, seed=2, now=NOW))
        assert base != _dump(generate_demo_gigs(VOCAB, 30, seed=1, now=NOW + DAY_MS))

    def test_prefix_does_not_depend_on_n(self) -> None:
        assert _dump(generate_demo_gigs(VOCAB, 10, now=NOW)) == _dump(
            generate_demo_gigs(VOCAB, 40, now=NOW)[:10]
        )

    def test_global_random_state_is_untouched(self) -> None:
        random.seed(1234)
        before = random.getstate()
        generate_demo_gigs(VOCAB, 20, now=NOW)
        assert random.getstate() == before

    def test_zero_and_negative(self) -> None:
        assert generate_demo_gigs(VOCAB, 0, now=NOW) == []
        with pytest.raises(ValueError):
            generate_demo_gigs(VOCAB, -1, now=NOW)

    def test_a_vocabulary_without_a_company_track_is_refused(self) -> None:
        partial = DemoVocabulary(
            tracks=demo_vocab.TRACKS[:3], cities=demo_vocab.CITIES, skill_labels={}
        )
        with pytest.raises(KeyError, match="tracks missing"):
            generate_demo_gigs(partial, 5, now=NOW)

    def test_companies_ids_and_tracks(self, gigs: list[GigImport]) -> None:
        assert [g.external_id for g in gigs] == [f"demo:gig-{i:03d}" for i in range(60)]
        owners = Counter(g.employer.clerk_id for g in gigs)
        assert len(owners) == len(DEMO_COMPANIES) == 7
        assert min(owners.values()) >= 8
        assert gigs[0].employer.clerk_id == DEMO_EMPLOYER_CLERK_ID
        assert gigs[0].body.status is GigStatus.OPEN
        names = {g.employer.clerk_id: g.employer.name for g in gigs}
        assert sorted(names.values()) == sorted(c for c, _ in DEMO_COMPANIES)
        assert all(g.employer.created_by == "demo" for g in gigs)
        # Every track's skills are asked for somewhere: every demo student has gigs.
        for track in demo_vocab.TRACKS:
            assert any(set(g.body.required_skills) <= set(track.skills) for g in gigs), track

    def test_fields_are_plausible(self, gigs: list[GigImport]) -> None:
        for g in gigs:
            body = g.body
            assert 2 <= len(body.required_skills) <= 4 and 1 <= len(body.nice_skills) <= 2
            assert set(body.required_skills) | set(body.nice_skills) <= demo_vocab.ALL_SKILLS
            assert not set(body.required_skills) & set(body.nice_skills)
            assert body.title and "(" in body.title and body.description
            assert g.employer.name in body.description
            assert "{" not in body.description and "}" not in body.description
            assert body.availability is not None
            assert (body.location is None) == body.remote
            assert body.location is None or body.location in demo_vocab.CITIES
            assert body.location is None or body.location.endswith(EURO_COUNTRIES)
            assert body.pay is not None
            assert (body.pay.currency, body.pay.unit) == ("EUR", PayUnit.HOUR)
            assert 1300 <= body.pay.amount_minor <= 3200 and body.pay.amount_minor % 50 == 0
            assert body.deadline is not None
            assert TODAY + 14 * DAY_MS < body.deadline < TODAY + 91 * DAY_MS
            assert body.deadline % DAY_MS == DAY_MS - 1  # the end of a UTC day
        statuses = Counter(g.body.status for g in gigs)
        assert statuses == {GigStatus.OPEN: 52, GigStatus.DRAFT: 4, GigStatus.CLOSED: 4}
        remote = sum(g.body.remote for g in gigs)
        assert 5 <= remote <= 30
        assert len({g.body.title for g in gigs}) > 40


def test_loading_twice_updates_nothing_and_keeps_closed_gigs_closed(runtime: Runtime) -> None:
    first = load_demo_gigs(runtime, VOCAB, count=30, progress=False)
    assert (first.created, first.employers_created) == (30, 7)
    again = load_demo_gigs(runtime, VOCAB, count=30, progress=False)
    closed = sum(g.body.status is GigStatus.CLOSED for g in generate_demo_gigs(VOCAB, 30))
    assert (again.created, again.updated, again.employers_created) == (0, 0, 0)
    assert (again.unchanged, again.kept_closed) == (30 - closed, closed)
    with session_scope(runtime.engine) as session:
        assert len(session.exec(select(Gig)).all()) == 30
        employers = session.exec(select(User).where(User.created_by == "demo")).all()
        assert len(employers) == 7 and all(u.roles == ["employer"] for u in employers)


def test_the_demo_student_is_recommended_demo_gigs(runtime: Runtime) -> None:
    load_demo(runtime, count=20, progress=False)
    load_demo_gigs(runtime, VOCAB, count=60, progress=False)
    reindex(runtime, progress=False)
    with session_scope(runtime.engine) as session:
        student = session.exec(select(User).where(User.clerk_id == "demo_00000")).one()
        found = recommended_gigs(runtime, session, student, limit=10)
        live = {g.id for g in session.exec(select(Gig).where(Gig.status == "open"))}
    assert found.results
    assert {h.gig_id for h in found.results} <= live
    assert any(h.explanation.matched_skills for h in found.results)


# --- the command --------------------------------------------------------------------


def test_demo_prints_keys_that_work_for_the_readme_examples(
    cli_env: CliRunner, tmp_path: Path
) -> None:
    result = cli_env.invoke(app, ["demo", "--count", "30", "--gigs", "20"])
    assert result.exit_code == 0, result.output
    assert "gigs: 20 created" in result.output and "7 employers created" in result.output
    assert "indexed 30 profiles" in result.output
    # Of every 15 demo gigs the 14th is a draft and the 15th closed: students see neither.
    assert "indexed 18 gigs" in result.output
    assert "2 demo gigs not indexed" in result.output and "1 closed, 1 draft" in result.output
    keys = dict(re.findall(r"^export (STUDENT_KEY|EMPLOYER_KEY)=(gsk_\S+)", result.output, re.M))
    assert set(keys) == {"STUDENT_KEY", "EMPLOYER_KEY"}
    assert f"employer {DEMO_EMPLOYER_CLERK_ID}, Pixelhof Studio, open gigs 1, " in result.output

    settings = Settings(
        data_dir=tmp_path / "var",
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
    )
    with TestClient(create_app(settings)) as api:
        student = {"Authorization": f"Bearer {keys['STUDENT_KEY']}"}
        employer = {"Authorization": f"Bearer {keys['EMPLOYER_KEY']}"}
        search = api.post("/v1/gigs/search", json={"query": "react developer"}, headers=student)
        assert search.status_code == 200, search.text
        assert search.json()["results"]
        mine = api.get("/v1/me/recommended-gigs?limit=5", headers=student)
        assert mine.status_code == 200, mine.text
        assert mine.json()["results"]
        candidates = api.get("/v1/gigs/1/candidates?limit=5", headers=employer)
        assert candidates.status_code == 200, candidates.text
        assert candidates.json()["results"]

    skipped = cli_env.invoke(app, ["demo", "--count", "30", "--if-empty"])
    assert skipped.exit_code == 0
    assert "skipping demo data" in skipped.output
    assert "--user demo_00000 --role student" in skipped.output


def test_demo_says_what_it_does_before_each_slow_step_and_why_it_skips(
    cli_env: CliRunner,
) -> None:
    result = cli_env.invoke(app, ["demo", "--count", "6", "--gigs", "15", "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()

    def at(prefix: str) -> int:
        found = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        assert found, f"no line starts with {prefix!r}:\n{result.output}"
        return found[0]

    # Announced before it happens, reported after, in the order they run.
    order = [
        at("demo: writing 6 students and 15 gigs (seed 42) to the database"),
        at("profiles: 6 created, 0 updated, 0 unchanged, 0 skipped"),
        at("gigs: 15 created, 0 updated, 0 unchanged, 0 skipped"),
        at("loading the embedding model"),
        at("loaded hashing-64 in "),
        at("indexing profiles:"),
        at("indexed 6 profiles (6 embedded, 0 reused)"),
        at("indexing gigs:"),
        at("indexed 13 gigs (13 embedded, 0 reused)"),
        at("optimizing the profiles index"),
        at("optimized the profiles index in "),
        at("optimizing the gigs index"),
        at("API keys for the demo users"),
    ]
    assert order == sorted(order)
    gig_line = lines[at("indexed 13 gigs")]
    assert "2 demo gigs not indexed, as students see only open gigs" in gig_line
    assert gig_line.endswith(": 1 closed, 1 draft")


def test_demo_with_no_progress_draws_no_bar(cli_env: CliRunner) -> None:
    quiet = cli_env.invoke(app, ["demo", "--count", "3", "--gigs", "2", "--no-progress"])
    assert quiet.exit_code == 0, quiet.output
    assert "%|" not in quiet.output
    drawn = cli_env.invoke(app, ["demo", "--count", "3", "--gigs", "2"])
    assert drawn.exit_code == 0, drawn.output
    assert "%|" in drawn.output  # tqdm's bar, on stderr
