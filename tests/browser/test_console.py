"""The employer console in Chromium: what a person sees after each action."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest

from search_service.db import session_scope
from search_service.refresh.freshness import refresh_stale
from search_service.saved.service import run_due_saved_searches
from search_service.users.api_keys import create_api_key
from tests.browser.conftest import BARISTAS, XSS_HEADLINE, Console
from tests.factories import make_student
from tests.search_service.profile_helpers import new_user_with_key

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.long]


def _use_key(page: Page, key: str) -> None:
    page.fill("#api-key", key)
    page.click("#key-use")
    page.wait_for_selector("#who:has-text('Signed in as')")


def _search(page: Page, query: str) -> None:
    page.fill("#q", query)
    # Blank the previous search's summary first, so the wait below sees this one's.
    page.evaluate("document.querySelector('#search-summary').textContent = ''")
    page.click("#search-submit")
    page.wait_for_selector("#search-summary:has-text('shown'), #search-summary:has-text('No ')")


def test_search_shows_explained_results(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    assert page.is_visible("#search-section")
    assert not page.is_visible("#recommended-section")
    _search(page, "latte artist")
    items = page.locator("#results > li")
    assert items.count() == 10
    first = items.first
    assert "Barista" in first.locator("h3").inner_text()
    explain = first.locator("dl.explain").inner_text()
    assert re.search(r"Keyword \(BM25\)\nrank \d+, score \d", explain), explain
    assert "Matched terms" in explain
    assert re.search(r"Boosts\n.*recency x1\.0\d\d", explain), explain  # profiles are new
    assert first.locator(".headline mark").count() >= 1  # a query term highlighted


def test_more_results_pages_on(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    page.select_option("#mode", "keyword")  # BM25 only: exactly the students saying "barista"
    _search(page, "barista")
    first_page = page.locator("#results > li h3").all_inner_texts()
    assert len(first_page) == 10
    with page.expect_request("**/v1/search") as sent:
        page.click("#more")
    page.locator("#results > li").nth(10).wait_for()
    body = sent.value.post_data_json
    assert isinstance(body, dict), body
    if _offers(console, "cursor"):  # the cursor of the first page, and no offset
        assert body["cursor"] and "offset" not in body, body
    else:
        assert body["offset"] == 10, body
    names = page.locator("#results > li h3").all_inner_texts()
    assert len(names) == BARISTAS  # eleven baristas and Mallory, each once
    assert len(set(names)) == len(names), names
    assert names[:10] == first_page
    assert page.is_hidden("#more")


def test_key_lives_in_session_storage_and_can_be_forgotten(page: Page, console: Console) -> None:
    key = console.key(console.employer)
    _use_key(page, key)
    assert page.evaluate("sessionStorage.getItem('gigsy.apiKey')") == key
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    assert page.input_value("#api-key") == ""  # not left in the field either
    page.click("#key-forget")
    page.wait_for_selector("#who:has-text('No key')")
    assert page.evaluate("sessionStorage.getItem('gigsy.apiKey')") is None
    assert page.is_hidden("#search-section")


def test_a_refused_key_shows_the_api_error(page: Page) -> None:
    page.fill("#api-key", "gsk_not_a_real_key")
    page.click("#key-use")
    alert = page.locator("#error[role=alert]")
    alert.wait_for(state="visible")
    text = alert.inner_text()
    assert "refused" in text and "invalid or revoked API key" in text and "(unauthorized)" in text


def test_markup_in_a_headline_renders_as_text(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    _search(page, "onerror window")
    item = page.locator("#results > li", has_text="Mallory")
    assert XSS_HEADLINE.replace(" barista", "") in item.locator(".headline").inner_text()
    assert item.locator("script, img").count() == 0
    assert page.evaluate("window.__xss") is None


def test_keyboard_reaches_search_with_visible_focus(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    page.locator("body").focus()
    reached: list[str] = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
        reached.append(focused)
        if focused == "q":
            outline = page.evaluate(
                "(() => { const s = getComputedStyle(document.activeElement);"
                " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
            )
            assert outline[0] != "none" and outline[1] >= 2, outline
            page.keyboard.type("barista")
        if focused == "search-submit":
            page.keyboard.press("Enter")
            break
    assert "q" in reached and reached[-1] == "search-submit", reached
    page.wait_for_selector("#results > li")


def test_every_control_has_a_label(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, select, textarea, button')]
             .filter(e => !e.hidden && !(e.labels && e.labels.length)
                          && !e.getAttribute('aria-label') && !e.textContent.trim())
             .map(e => e.id || e.outerHTML)"""
    )
    assert unlabelled == []


def test_student_sees_recommended_gigs(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.student))
    assert page.is_visible("#recommended-section")
    assert page.is_hidden("#search-section") and page.is_hidden("#gigs-section")
    page.click("#rec-load")
    first = page.locator("#rec-list > li").first
    first.wait_for()
    assert "Python data analyst" in first.locator("h3").inner_text()
    assert "Matched skills" in first.locator("dl.explain").inner_text()


def test_owner_shortlists_a_candidate(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    page.click("#gigs-load")
    page.click("button:has-text('Candidates for Weekend barista')")
    item = page.locator("#candidates-list > li").first
    item.wait_for()
    name = item.locator("h3").inner_text()
    assert "No decision yet" in item.locator(".decision").inner_text()
    item.get_by_role("button", name=f"Shortlist {name}").click()
    page.wait_for_selector("#candidates-list > li .decision.shortlisted")
    assert "Decision: shortlisted" in item.locator(".decision").inner_text()
    assert page.locator("#status").inner_text() == f"{name}: shortlisted."


def test_employer_opens_a_candidate_profile(page: Page, console: Console) -> None:
    _use_key(page, console.key(console.employer))
    _search(page, "onerror window")
    page.locator("#results > li", has_text="Mallory").get_by_role(
        "button", name=re.compile("View profile")
    ).click()
    profile = page.locator("#profile-dialog")
    profile.wait_for(state="visible")
    assert "Mallory" in profile.locator("h3").inner_text()
    assert "<script>" in profile.locator(".headline").inner_text()
    assert page.evaluate("document.activeElement.id") == "profile-h"


def _offers(console: Console, feature: str) -> bool:
    """Whether this service's API has ``feature`` (as the page's capabilities.js reads it)."""
    doc = httpx.get(f"{console.url}openapi.json").json()
    request = doc["components"]["schemas"]["SearchRequest"]["properties"]
    return {
        "facets": "facets" in request,
        "cursor": "cursor" in request,
        "saved-searches": "/v1/saved-searches" in doc["paths"],
    }[feature]


def test_a_facet_value_narrows_the_results(page: Page, console: Console) -> None:
    if not _offers(console, "facets"):
        pytest.skip("this API has no facets")
    _use_key(page, console.key(console.employer))
    page.select_option("#mode", "keyword")
    _search(page, "barista")
    assert page.locator("#results > li").count() == 10
    facet = page.locator("#facets button[data-facet=skills]", has_text="customer service")
    assert facet.inner_text() == "customer service (5)"  # the odd baristas 1, 3, ..., 9
    facet.click()
    page.wait_for_selector("#search-summary:has-text('5 candidates, all shown')")
    assert page.input_value("#f-skills") == "customer service"
    names = page.locator("#results > li h3").all_inner_texts()
    assert sorted(names) == sorted(f"Barista{i} S." for i in (1, 3, 5, 7, 9))


def test_a_saved_search_is_listed(page: Page, console: Console) -> None:
    if not _offers(console, "saved-searches"):
        pytest.skip("this API has no saved searches")
    _use_key(page, console.key(console.employer))
    page.wait_for_selector("#saved-section:not([hidden])")
    page.fill("#q", "latte artist")
    page.fill("#save-name", "Latte artists")
    page.click("#save-submit")
    saved = page.locator("#saved-list > li", has_text="Latte artists")
    saved.wait_for()
    assert '"latte artist"' in saved.inner_text() and "0 unseen alerts" in saved.inner_text()
    saved.get_by_role("button", name="Alerts of Latte artists").click()
    page.wait_for_selector("#status:has-text('No alerts yet.')")
    assert page.locator("#alerts-h").inner_text() == "Alerts of Latte artists"


def _focused_id(page: Page) -> str:
    found: str = page.evaluate("document.activeElement.id")
    return found


def test_an_employer_reads_and_marks_seen_the_alert_of_a_new_candidate(
    page: Page, console: Console
) -> None:
    if not _offers(console, "saved-searches"):
        pytest.skip("this API has no saved searches")
    recruiter = new_user_with_key(console.rt, "emp_alerts", role="employer")
    _use_key(page, console.key(recruiter))
    page.wait_for_selector("#saved-section:not([hidden])")
    page.select_option("#mode", "keyword")  # BM25: only who says "sommelier" matches
    page.fill("#q", "sommelier")
    page.fill("#save-name", "Sommeliers")
    page.click("#save-submit")
    saved = page.locator("#saved-list > li", has_text="Sommeliers")
    saved.wait_for()
    assert "not run yet" in saved.inner_text()

    # The scheduler's job: a new search is due at once; its first run is the baseline.
    baseline = run_due_saved_searches(console.rt)
    assert baseline.failed == 0 and baseline.ran >= 1 and baseline.alerts == 0
    make_student(
        console.rt,
        clerk_id="stu_sommelier",
        first_name="Sofia",
        headline="Wine sommelier for tastings and events",
        skills=("wine",),
    )
    while refresh_stale(console.rt).claimed:  # the refresh job indexes her
        pass
    rerun = run_due_saved_searches(console.rt, force=True)  # `run-saved-searches --all`
    assert rerun.failed == 0 and rerun.alerts >= 1

    page.reload()  # the key stays in this tab's sessionStorage
    saved.wait_for()
    assert "1 unseen alert ·" in saved.inner_text()
    saved.get_by_role("button", name="Alerts of Sommeliers").click()
    page.wait_for_selector("#alerts-summary:has-text('1 alert shown, 1 new.')")
    assert page.locator("#alerts-h").inner_text() == "Alerts of Sommeliers"
    assert _focused_id(page) == "alerts-h"
    item = page.locator("#alerts-list > li")
    assert item.count() == 1
    assert item.locator("h3").inner_text() == "Sofia S."
    assert "Wine sommelier" in item.locator(".headline").inner_text()
    assert item.locator(".alert-state").inner_text().startswith("New · alerted ")
    assert "rank 1 in that run" in item.locator(".alert-state").inner_text()
    assert "unseen" in (item.get_attribute("class") or "")
    assert item.locator("dl.explain").count() == 0  # an alert has no ranking to explain
    assert page.is_visible("#alerts-seen")

    mark = item.get_by_role("button", name="Mark the alert for Sofia S. seen")
    mark.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#status:has-text('1 alert marked seen.')")
    assert item.locator(".alert-state").inner_text().startswith("Seen ")
    assert "unseen" not in (item.get_attribute("class") or "")
    assert mark.count() == 0
    assert page.is_hidden("#alerts-seen")
    assert page.locator("#alerts-summary").inner_text() == "1 alert shown, 0 new."
    assert _focused_id(page) == "alerts-h"  # focus stays in the alerts, not on <body>
    assert "0 unseen alerts" in saved.inner_text()

    # Stored, not only drawn: the API and a fresh page agree.
    saved_id = saved.get_attribute("data-saved-id")
    alerts = httpx.get(
        f"{console.url}v1/saved-searches/{saved_id}/alerts",
        headers=recruiter.headers,
    ).json()["results"]
    assert [(a["candidate"]["name"], a["seenAt"] is not None) for a in alerts] == [
        ("Sofia S.", True)
    ]
    page.reload()
    saved.get_by_role("button", name="Alerts of Sommeliers").click()
    page.wait_for_selector("#alerts-summary:has-text('1 alert shown, 0 new.')")

    # The alerted candidate's profile as employers see it.
    item.get_by_role("button", name="View profile of Sofia S.").click()
    profile = page.locator("#profile-dialog")
    profile.wait_for(state="visible")
    assert profile.locator("h3").inner_text() == "Sofia S."  # the profile shows a display name
    assert "Wine sommelier" in profile.locator(".headline").inner_text()


def test_marking_alerts_seen_with_more_pages_reads_them_again_in_order(
    page: Page, console: Console
) -> None:
    if not _offers(console, "saved-searches"):
        pytest.skip("this API has no saved searches")
    recruiter = new_user_with_key(console.rt, "emp_pastry", role="employer")
    body = {
        "name": "Pastry chefs",
        "search": {"query": "patissier", "mode": "keyword", "limit": 100},
    }
    r = httpx.post(f"{console.url}v1/saved-searches", json=body, headers=recruiter.headers)
    assert r.status_code == 201, r.text
    assert run_due_saved_searches(console.rt).failed == 0  # the baseline: nobody yet
    chefs = 22  # more than one page of 20 alerts
    for i in range(chefs):
        make_student(
            console.rt,
            clerk_id=f"stu_pastry_{i}",
            first_name=f"Chef{i}",
            headline="Patissier" + " and baker" * i,
        )
    while refresh_stale(console.rt).claimed:
        pass
    rerun = run_due_saved_searches(console.rt, force=True)
    assert rerun.failed == 0 and rerun.alerts >= chefs

    _use_key(page, console.key(recruiter))
    saved = page.locator("#saved-list > li", has_text="Pastry chefs")
    saved.wait_for()
    assert f"{chefs} unseen alerts" in saved.inner_text()
    saved.get_by_role("button", name="Alerts of Pastry chefs").click()
    page.wait_for_selector("#alerts-summary:has-text('20 alerts shown, 20 new.')")
    first_page = page.locator("#alerts-list > li h3").all_inner_texts()
    assert page.is_visible("#alerts-more")
    page.click("#alerts-seen")
    page.wait_for_selector("#status:has-text('20 alerts marked seen.')")
    # Read again from the first page: the two still unseen now come first.
    assert page.locator("#alerts-summary").inner_text() == "20 alerts shown, 2 new."
    states = page.locator("#alerts-list > li .alert-state").all_inner_texts()
    assert [s.split(" ")[0] for s in states] == ["New"] * 2 + ["Seen"] * 18, states
    unseen = page.locator("#alerts-list > li h3").all_inner_texts()[:2]
    assert not set(unseen) & set(first_page)
    assert "2 unseen alerts" in saved.inner_text()
    page.click("#alerts-more")
    page.wait_for_selector(f"#alerts-summary:has-text('{chefs} alerts shown')")
    names = page.locator("#alerts-list > li h3").all_inner_texts()
    assert sorted(names) == sorted(f"Chef{i} S." for i in range(chefs))
    assert page.is_hidden("#alerts-more")


def test_a_saved_search_runs_again_and_is_deleted(page: Page, console: Console) -> None:
    if not _offers(console, "saved-searches"):
        pytest.skip("this API has no saved searches")
    recruiter = new_user_with_key(console.rt, "emp_rerun", role="employer")
    _use_key(page, console.key(recruiter))
    page.wait_for_selector("#saved-section:not([hidden])")
    page.select_option("#mode", "keyword")
    page.fill("#q", "barista")
    page.fill("#f-location", "Munich, Germany")
    page.fill("#save-name", "Munich baristas")
    page.click("#save-submit")
    saved = page.locator("#saved-list > li", has_text="Munich baristas")
    saved.wait_for()
    page.click("#filters-clear")
    page.fill("#q", "")
    page.select_option("#mode", "hybrid")

    saved.get_by_role("button", name="Search again: Munich baristas").click()
    page.wait_for_selector("#search-summary:has-text('candidates, all shown')")
    assert page.input_value("#q") == "barista"
    assert page.input_value("#mode") == "keyword"
    assert page.input_value("#f-location") == "Munich, Germany"
    names = page.locator("#results > li h3").all_inner_texts()
    assert sorted(names) == sorted(f"Barista{i} S." for i in range(0, BARISTAS - 1, 3))

    page.once("dialog", lambda dialog: dialog.accept())
    saved.get_by_role("button", name="Delete Munich baristas").click()
    page.wait_for_selector("#status:has-text('Deleted \"Munich baristas\".')")
    assert page.locator("#saved-list > li").count() == 0
    listed = httpx.get(f"{console.url}v1/saved-searches", headers=recruiter.headers).json()
    assert listed["results"] == []


def test_a_key_without_a_user_searches_but_has_no_saved_searches(
    page: Page, console: Console
) -> None:
    with session_scope(console.rt.engine) as session:
        _, key = create_api_key(session, role="admin", name="ops")  # a legacy key: no user
    _use_key(page, key)
    assert page.is_visible("#search-section")
    _search(page, "latte artist")
    assert page.locator("#results > li").count() == 10
    assert page.is_hidden("#saved-section")
    assert page.is_hidden("#error")  # nothing asked for what this key may not read


def test_saved_searches_stay_hidden_without_the_api(page: Page, console: Console) -> None:
    if _offers(console, "saved-searches"):
        pytest.skip("this API has saved searches")
    _use_key(page, console.key(console.employer))
    assert page.is_hidden("#saved-section")


def test_zero_results_suggest_a_filter_to_drop(page: Page, console: Console) -> None:
    if not _offers(console, "facets"):  # suggestions arrived with facets
        pytest.skip("this API has no zero-result suggestions")
    _use_key(page, console.key(console.employer))
    page.select_option("#mode", "keyword")
    page.fill("#f-skills", "coffee, cobol")
    _search(page, "barista")
    assert page.locator("#results > li").count() == 0
    suggestion = page.locator("#suggestion button")
    assert suggestion.inner_text() == 'Drop the skills filter "cobol" (12 results)'
    suggestion.click()
    page.wait_for_selector("#search-summary:has-text('10 of at least 12 candidates shown')")
    assert page.input_value("#f-skills") == "coffee"
    assert page.is_hidden("#suggestion")
