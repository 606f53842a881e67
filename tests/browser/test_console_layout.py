"""The console shows results first, keeps keyboard focus where a person is working,
lets students search gigs, and marks the same matched skills on a card as its
explanation lists; at a desktop (1280x800) and a phone (390x844) viewport."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from models import GigStatus, GigWrite
from search_service.gigs.service import create_gig
from search_service.refresh.freshness import refresh_stale
from tests.browser.conftest import Console, PageAt, axe_violations
from tests.factories import make_student

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.long]

DESKTOP = (1280, 800)
PHONE = (390, 844)
SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280x800", "390x844"])
FRONTEND = ("html", "css", "git", "jest", "typescript", "react", "figma")
"""Seven skills: more than a facet shows before "more"; the two a React and Figma
query names come last, past the five a card shows by the profile's order."""
DEVELOPERS = 8


@pytest.fixture(scope="module", autouse=True)
def frontend(console: Console) -> None:
    """Frontend developers in several cities, and a gig Rita lacks one skill for."""
    cities = ("Berlin, Germany", "Paris, France", "Lisbon, Portugal", "Oslo, Norway")
    for i in range(DEVELOPERS):
        make_student(
            console.rt,
            clerk_id=f"stu_frontend_{i}",
            first_name=f"Dev{i}",
            headline="Frontend developer building React apps from Figma designs" + " fast" * i,
            skills=FRONTEND,
            location=cities[i % len(cities)],
        )
    reporting = GigWrite(
        title="Reporting analyst with python, sql and tableau",
        description="Python and SQL reports, Tableau dashboards.",
        required_skills=["python", "sql", "tableau"],
        remote=True,
        status=GigStatus.OPEN,
    )
    with console.rt.session() as session:
        create_gig(session, console.rt, console.employer.user, reporting)
    while refresh_stale(console.rt).claimed:
        pass


def _use_key(page: Page, key: str) -> None:
    page.fill("#api-key", key)
    page.click("#key-use")
    page.wait_for_selector("#who:has-text('Signed in as')")


def _search(page: Page, query: str, *, mode: str = "keyword") -> None:
    page.select_option("#mode", mode)
    page.fill("#q", query)
    # Blank the previous search's summary first, so the wait below sees this one's.
    page.evaluate("document.querySelector('#search-summary').textContent = ''")
    page.click("#search-submit")
    page.wait_for_selector("#search-summary:has-text('shown'), #search-summary:has-text('No ')")


def _focused(page: Page) -> str:
    """The focused element as ``tag#id`` or ``tag.text`` (for a heading without an id)."""
    found: str = page.evaluate(
        "(() => { const e = document.activeElement;"
        " return e.id ? `${e.tagName.toLowerCase()}#${e.id}`"
        " : `${e.tagName.toLowerCase()}.${e.textContent.trim()}`; })()"
    )
    return found


def _no_horizontal_overflow(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"scrollWidth {widths[0]} > innerWidth {widths[1]}"


def _in_viewport(page: Page, target: Locator) -> None:
    box = target.bounding_box()
    assert box is not None
    height = page.evaluate("window.innerHeight")
    assert 0 <= box["y"] and box["y"] + box["height"] <= height, (box, height)


def test_the_first_card_is_in_view_after_a_search_at_1280x800(
    page_at: PageAt, console: Console
) -> None:
    page = page_at(*DESKTOP)
    _use_key(page, console.key(console.employer))
    _search(page, "barista")
    assert page.evaluate("window.scrollY") == 0  # nothing had to scroll
    _in_viewport(page, page.locator("#results > li").first)
    assert page.locator("#facets button[data-facet]").count() > 0  # facets are there, beside


@SIZES
def test_no_view_runs_off_the_side(
    page_at: PageAt, console: Console, size: tuple[int, int]
) -> None:
    page = page_at(*size)
    _no_horizontal_overflow(page)
    _use_key(page, console.key(console.employer))
    _no_horizontal_overflow(page)
    _search(page, "react developer with figma", mode="hybrid")
    page.locator("#facets button.more").first.click()
    _no_horizontal_overflow(page)
    page.locator("#results > li").first.get_by_role(
        "button", name=re.compile("View profile")
    ).click()
    page.locator("#profile-dialog").wait_for(state="visible")
    _no_horizontal_overflow(page)
    page.keyboard.press("Escape")
    student = page_at(*size)
    _use_key(student, console.key(console.student))
    _no_horizontal_overflow(student)
    student.fill("#gq", "python")
    student.click("#gig-search-submit")
    student.wait_for_selector("#gig-results > li")
    _no_horizontal_overflow(student)


def test_each_facet_shows_five_values_and_more(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    _search(page, "frontend")
    skills = page.locator("#facets section[data-facet=skills]")
    values = skills.locator("button[data-facet]")
    assert values.count() == len(FRONTEND)
    assert [values.nth(i).is_visible() for i in range(len(FRONTEND))] == [True] * 5 + [False] * 2
    more = skills.locator("button.more")
    assert more.inner_text() == "2 more" and more.get_attribute("aria-expanded") == "false"
    more.click()
    assert more.get_attribute("aria-expanded") == "true"
    assert all(values.nth(i).is_visible() for i in range(len(FRONTEND)))
    assert _focused(page) == "button." + more.inner_text()  # focus stays on the control


def test_applied_filters_are_chips_that_remove_them(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    _search(page, "frontend")
    page.locator("#facets button[data-facet=location]", has_text="paris, france").click()
    page.wait_for_selector("#chips button:has-text('Location: paris, france')")
    assert page.input_value("#f-location") == "paris, france"
    assert _focused(page) == "h2#results-h"  # after a facet click, the results heading
    names = page.locator("#results > li h3").all_inner_texts()
    assert sorted(names) == ["Dev1 S.", "Dev5 S."]
    pressed = page.locator("#facets button[data-facet=location][aria-pressed=true]")
    assert pressed.inner_text() == "paris, france (2)"

    page.get_by_role("button", name="Remove filter Location: paris, france").click()
    page.wait_for_selector("#chips", state="hidden")
    assert page.input_value("#f-location") == ""
    assert page.locator("#results > li").count() == DEVELOPERS
    assert _focused(page) == "h2#results-h"


def test_the_total_is_shown(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    # Filters only: the facet counts cover every match, so the total is exact.
    page.fill("#f-skills", "coffee")
    _search(page, "")
    assert page.inner_text("#search-summary").startswith("10 of 12 candidates shown")
    # A text query: counted over the retrievers' candidates, a lower bound.
    page.fill("#f-skills", "")
    _search(page, "barista")
    assert page.inner_text("#search-summary").startswith("10 of at least 12 candidates shown")
    page.click("#more")
    page.wait_for_selector("#search-summary:has-text('12 candidates, all shown')")


def test_focus_follows_search_more_and_the_profile(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    _search(page, "barista")
    assert _focused(page) == "h2#results-h"
    page.click("#more")
    page.locator("#results > li").nth(10).wait_for()
    eleventh = page.locator("#results > li").nth(10).locator("h3").inner_text()
    assert _focused(page) == f"h3.{eleventh}"  # the first card "More" added

    card = page.locator("#results > li").first
    view = card.get_by_role("button", name=re.compile("View profile"))
    view.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#profile-dialog")
    dialog.wait_for(state="visible")
    assert page.evaluate("document.getElementById('profile-dialog').open") is True
    assert _focused(page) == "h2#profile-h"
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate(
        "document.activeElement === document.querySelector('#results > li button')"
    )

    view.click()
    dialog.wait_for(state="visible")
    page.click("#profile-close")
    dialog.wait_for(state="hidden")
    assert page.evaluate(
        "document.activeElement === document.querySelector('#results > li button')"
    )


@SIZES
def test_escape_closes_the_profile_at_each_size(
    page_at: PageAt, console: Console, size: tuple[int, int]
) -> None:
    page = page_at(*size)
    _use_key(page, console.key(console.employer))
    _search(page, "barista")
    page.locator("#results > li").first.get_by_role(
        "button", name=re.compile("View profile")
    ).click()
    dialog = page.locator("#profile-dialog")
    dialog.wait_for(state="visible")
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size[0]
    _in_viewport(page, page.locator("#profile-h"))  # opened where the person is
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert _focused(page).startswith("button.View profile of")


def test_an_error_replaces_the_results_with_one_message(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    _search(page, "barista")
    assert page.locator("#results > li").count() == 10
    detail = "the vector store did not answer"
    page.route(
        "**/v1/search",
        lambda route: route.fulfill(
            status=503, json={"error": "store_unavailable", "detail": detail}
        ),
    )
    page.click("#search-submit")
    page.locator("#search-error").wait_for(state="visible")
    assert page.locator("#results > li").count() == 0
    assert page.is_hidden("#more") and page.is_hidden("#facets")
    assert page.inner_text("#search-summary") == ""
    body = page.inner_text("body")
    assert body.count(detail) == 1, body
    assert page.is_hidden("#error")  # not also in the page-wide alert
    assert _focused(page) == "h2#results-h"


def test_a_student_searches_gigs_with_filters(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.student))
    assert page.is_visible("#gig-search-section") and page.is_hidden("#search-section")
    page.fill("#gq", "python")
    page.select_option("#g-remote", "true")
    page.fill("#g-skills", "python")
    with page.expect_request("**/v1/gigs/search") as sent:
        page.click("#gig-search-submit")
    body = sent.value.post_data_json
    assert isinstance(body, dict), body
    assert body["filters"] == {"skills": ["python"], "remote": True}, body
    page.wait_for_selector("#gig-summary:has-text('shown')")
    titles = page.locator("#gig-results > li h3").all_inner_texts()
    assert "Python data analyst, part time" in titles
    assert _focused(page) == "h2#gig-results-h"
    chips = page.locator("#gig-chips button").all_inner_texts()
    assert [c.replace("✕", "").strip() for c in chips] == ["Skills: python", "Remote: yes"]

    page.fill("#g-pay-min", "15.5")
    page.fill("#g-currency", "eur")
    page.select_option("#g-pay-unit", "hour")
    page.fill("#g-deadline-after", "2030-01-31")
    with page.expect_request("**/v1/gigs/search") as sent:
        page.click("#gig-search-submit")
    body = sent.value.post_data_json
    assert isinstance(body, dict), body
    assert body["filters"] == {
        "skills": ["python"],
        "remote": True,
        "payMin": 1550,
        "currency": "EUR",
        "payUnit": "hour",
        "deadlineAfter": 1_896_048_000_000,  # 2030-01-31T00:00:00Z
    }, body
    page.wait_for_selector("#gig-summary:has-text('No gigs found')")  # seeded gigs list no pay
    page.get_by_role("button", name="Remove filter Pay at least: 15.50").click()
    page.wait_for_selector("#gig-chips button:has-text('Currency: EUR')")
    assert page.input_value("#g-pay-min") == ""


def _marked(card: Locator) -> list[str]:
    return card.locator(".skills > li.matched mark").all_inner_texts()


def _explained(card: Locator, term: str) -> list[str]:
    row = card.locator(f"dl.explain dt:text-is('{term}') + dd")
    return row.inner_text().split(", ") if row.count() else []


def test_a_card_marks_exactly_the_skills_its_explanation_matched(
    page: Page, console: Console
) -> None:
    _use_key(page, console.key(console.employer))
    _search(page, "react developer with figma", mode="hybrid")
    cards = page.locator("#results > li")
    checked = 0
    for i in range(cards.count()):
        card = cards.nth(i)
        chips = card.locator(".skills > li").all_text_contents()
        assert len(chips) == len(set(chips)), chips  # no skill twice
        assert sorted(_marked(card)) == sorted(_explained(card, "Matched skills"))
        checked += bool(_marked(card))
    assert checked >= DEVELOPERS  # every developer: react and figma, on both
    first = cards.first
    assert _marked(first) == ["react", "figma"]


def test_a_gig_card_lists_a_missing_skill_once(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.student))  # Rita: python, sql
    page.click("#rec-load")
    card = page.locator("#rec-list > li", has_text="Reporting analyst")
    card.wait_for()
    chips = card.locator(".skills > li").all_text_contents()
    assert sorted(chips) == ["python (matched)", "sql (matched)", "tableau (missing)"], chips
    assert sorted(_marked(card)) == sorted(_explained(card, "Matched skills")) == ["python", "sql"]
    assert _explained(card, "Missing skills") == ["tableau"]


class TestAxe:
    """axe-core finds no serious or critical violation in any console view."""

    def test_employer_search_with_results(
        self, page_at: PageAt, console: Console, axe_source: str
    ) -> None:
        for size in (DESKTOP, PHONE):
            page = page_at(*size)
            _use_key(page, console.key(console.employer))
            _search(page, "react developer with figma", mode="hybrid")
            page.locator("#facets button.more").first.click()
            assert axe_violations(page, axe_source) == [], size

    def test_profile_dialog_open(self, page: Page, console: Console, axe_source: str) -> None:
        _use_key(page, console.key(console.employer))
        _search(page, "barista")
        page.locator("#results > li").first.get_by_role(
            "button", name=re.compile("View profile")
        ).click()
        page.locator("#profile-dialog").wait_for(state="visible")
        assert axe_violations(page, axe_source) == []

    def test_saved_searches_and_alerts(self, page: Page, console: Console, axe_source: str) -> None:
        _use_key(page, console.key(console.employer))
        page.wait_for_selector("#saved-section:not([hidden])")
        page.fill("#q", "react")
        page.fill("#save-name", "React people")
        page.click("#save-submit")
        saved = page.locator("#saved-list > li", has_text="React people")
        saved.get_by_role("button", name="Alerts of React people").click()
        page.wait_for_selector("#alerts:not([hidden])")
        assert axe_violations(page, axe_source) == []

    def test_student_gig_search(self, page: Page, console: Console, axe_source: str) -> None:
        _use_key(page, console.key(console.student))
        page.fill("#gq", "python")
        page.click("#gig-search-submit")
        page.wait_for_selector("#gig-results > li")
        page.click("#rec-load")
        page.wait_for_selector("#rec-list > li")
        assert axe_violations(page, axe_source) == []

    def test_error_state(self, page: Page, console: Console, axe_source: str) -> None:
        _use_key(page, console.key(console.employer))
        page.route(
            "**/v1/search",
            lambda route: route.fulfill(status=503, json={"error": "x", "detail": "down"}),
        )
        page.click("#search-submit")
        page.locator("#search-error").wait_for(state="visible")
        assert axe_violations(page, axe_source) == []

    def test_signed_out_and_refused_key(self, page: Page, axe_source: str) -> None:
        assert axe_violations(page, axe_source) == []
        page.fill("#api-key", "gsk_not_a_real_key")
        page.click("#key-use")
        page.locator("#error").wait_for(state="visible")
        assert axe_violations(page, axe_source) == []
