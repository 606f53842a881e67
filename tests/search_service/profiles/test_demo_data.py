"""Behaviour of the seeded demo-profile generator (``search_service.profiles.demo_data``)."""

from __future__ import annotations

import json
import random
import re

import pytest

from models.profile import ProfileDraft, UserDraft
from search_service.profiles.demo_data import generate_demo_profiles
from search_service.profiles.demo_vocab import ALL_SKILLS, SKILL_LEVELS, TRACKS_BY_NAME

Pairs = list[tuple[UserDraft, ProfileDraft]]


@pytest.fixture(scope="module")
def profiles() -> Pairs:
    return generate_demo_profiles(500, seed=7)


def _dump(pairs: Pairs) -> list[tuple[dict[str, object], dict[str, object]]]:
    return [(u.model_dump(mode="json"), p.model_dump(mode="json")) for u, p in pairs]


def test_same_seed_gives_identical_output() -> None:
    assert _dump(generate_demo_profiles(200, seed=3)) == _dump(generate_demo_profiles(200, seed=3))


def test_different_seed_gives_different_output() -> None:
    assert _dump(generate_demo_profiles(50, seed=1)) != _dump(generate_demo_profiles(50, seed=2))


def test_prefix_does_not_depend_on_n() -> None:
    assert _dump(generate_demo_profiles(10)) == _dump(generate_demo_profiles(30)[:10])


def test_global_random_state_is_untouched() -> None:
    random.seed(1234)
    before = random.getstate()
    generate_demo_profiles(20)
    assert random.getstate() == before


def test_returns_n_profiles_with_unique_ids_and_emails(profiles: Pairs) -> None:
    assert len(profiles) == 500
    users = [u for u, _ in profiles]
    assert len({u.clerk_id for u in users}) == 500
    assert len({u.email for u in users}) == 500
    assert len({u.username for u in users}) == 500


def test_user_identity_fields(profiles: Pairs) -> None:
    email_re = re.compile(r"^[a-z0-9]+\.[a-z0-9]+\.\d+@demo\.gigsy\.invalid$")
    for i, (user, _) in enumerate(profiles):
        assert user.clerk_id == f"demo_{i:05d}"
        assert user.external_id == f"demo-{i:05d}"
        assert user.email is not None and email_re.match(user.email), user.email
        assert user.email.endswith(f".{i}@demo.gigsy.invalid")
        assert user.first_name and user.last_name and user.username
        assert user.roles == ["student"]
        assert user.created_by == "demo"
        assert user.tags[0] == "demo" and user.tags[1] in TRACKS_BY_NAME


def test_every_profile_round_trips_through_validation(profiles: Pairs) -> None:
    for user, profile in profiles:
        assert ProfileDraft.model_validate(profile.model_dump()) == profile
        assert ProfileDraft.model_validate_json(profile.model_dump_json(by_alias=True)) == profile
        assert UserDraft.model_validate(user.model_dump()) == user
        assert profile.visibility == {}


def test_skills_are_lowercase_non_empty_and_plausible(profiles: Pairs) -> None:
    for _, profile in profiles:
        names = [s.name for s in profile.skills]
        assert 4 <= len(names) <= 10
        assert len(set(names)) == len(names)
        for skill in profile.skills:
            assert skill.name and skill.name == skill.name.strip().lower()
            assert skill.name in ALL_SKILLS
            assert skill.level in SKILL_LEVELS
            assert skill.years is not None and 0 <= skill.years <= 5


def test_project_skills_come_from_the_taxonomy(profiles: Pairs) -> None:
    for _, profile in profiles:
        assert len(profile.projects) <= 3
        for project in profile.projects:
            assert project.title and project.description
            assert 2 <= len(project.skills) <= 4
            assert set(project.skills) <= ALL_SKILLS


def test_sections_have_expected_shapes(profiles: Pairs) -> None:
    for user, profile in profiles:
        assert profile.headline and profile.location and profile.availability is not None
        assert 1 <= len(profile.education) <= 2
        assert len(profile.work_experience) <= 3
        assert 1 <= len(profile.languages) <= 3
        for edu in profile.education:
            assert edu.start_year is not None and edu.end_year is not None
            assert 2018 <= edu.start_year < edu.end_year <= 2029
        main_track = TRACKS_BY_NAME[user.tags[1]]
        main_skills = [s.name for s in profile.skills if s.name in main_track.skills]
        assert len(main_skills) >= 4


def test_data_is_not_uniform(profiles: Pairs) -> None:
    empty_bio = sum(not p.bio for _, p in profiles)
    no_projects = sum(not p.projects for _, p in profiles)
    assert 0.03 * len(profiles) <= empty_bio <= 0.25 * len(profiles)
    assert 0.03 * len(profiles) <= no_projects <= 0.25 * len(profiles)
    assert len({u.tags[1] for u, _ in profiles}) >= 12
    assert len({p.headline for _, p in profiles}) > len(profiles) // 2


def test_zero_gives_empty_list() -> None:
    assert generate_demo_profiles(0) == []


def test_negative_n_raises() -> None:
    with pytest.raises(ValueError):
        generate_demo_profiles(-1)


def test_no_placeholder_text(profiles: Pairs) -> None:
    text = json.dumps(_dump(profiles), ensure_ascii=False).lower()
    assert "lorem" not in text
    assert "ipsum" not in text
    for _, profile in profiles:  # no unfilled template fields such as "{city}"
        free_text = [profile.headline, profile.bio]
        free_text += [w.description for w in profile.work_experience]
        free_text += [p.description for p in profile.projects]
        assert not any("{" in t or "}" in t for t in free_text), free_text
