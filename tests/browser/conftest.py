"""The console under a real browser: the app served by uvicorn on a free port
(seeded SQLite + Qdrant Edge, hashing encoder) and Chromium driven by Playwright.

Chromium is the system's (Debian's ``chromium`` package, ``/usr/bin/chromium``,
or the path in ``GIGSY_TEST_CHROMIUM``); Playwright's own browser download is never
used. Without Playwright or a Chromium the tests skip and say why.

Accessibility checks run axe-core (the npm package pinned in ``package.json`` and
``package-lock.json`` beside this file), installed by ``npm ci`` into
``tests/browser/node_modules`` (git-ignored) the first time a test asks for it;
without npm, or when the install fails, those tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn

from indexers import HashingEncoder
from models import Availability, GigStatus, GigWrite
from search_service.app import create_app
from search_service.entities import ENTITIES
from search_service.gigs.service import create_gig
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from search_service.settings import EmbeddingSettings, QdrantSettings, Settings
from tests.conftest import GENEROUS_RATE_LIMITS
from tests.factories import make_student
from tests.search_service.profile_helpers import Student, new_user_with_key, student_with_key

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

XSS_HEADLINE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> barista'
"""A headline written to run script if the page rendered data as HTML."""
BARISTAS = 12
"""Students matching "barista": more than one page of the console's 10 results."""


def _chromium() -> str | None:
    configured = os.environ.get("GIGSY_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass(frozen=True)
class Console:
    """The served console and the seeded callers.

    Attributes:
        url: the page's URL (``http://127.0.0.1:<port>/``).
        employer: an employer owning the gig ``gig_id``.
        student: a student with a profile (recommended gigs).
        candidate: the student whose headline is ``XSS_HEADLINE``.
        gig_id: an open gig of ``employer`` asking for coffee skills.
        rt: the runtime the app serves (to change data and run jobs in-process).
    """

    url: str
    employer: Student
    student: Student
    candidate: Student
    gig_id: int
    rt: Runtime

    @staticmethod
    def key(who: Student) -> str:
        """The raw API key of ``who``."""
        return who.headers["Authorization"].removeprefix("Bearer ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _seed(rt: Runtime) -> tuple[Student, Student, Student, int]:
    employer = new_user_with_key(rt, "emp_console", role="employer")
    for i in range(BARISTAS - 1):
        make_student(
            rt,
            clerk_id=f"stu_barista_{i}",
            first_name=f"Barista{i}",
            # Distinct lengths give distinct BM25 scores: offset pages stay stable.
            headline="Barista and latte artist" + " with espresso" * i,
            skills=("coffee", "customer service") if i % 2 else ("coffee",),
            languages=("english",),
            location="Berlin, Germany" if i % 3 else "Munich, Germany",
            availability=Availability.WEEKENDS if i % 2 else Availability.EVENINGS,
        )
    candidate = student_with_key(
        rt, "stu_xss", first_name="Mallory", headline=XSS_HEADLINE, skills=("coffee",)
    )
    student = student_with_key(
        rt,
        "stu_reader",
        first_name="Rita",
        headline="Python developer, data analysis",
        skills=("python", "sql"),
    )
    gig = GigWrite(
        title="Weekend barista for a campus cafe",
        description="Coffee, latte art and customer service on weekends.",
        required_skills=["coffee"],
        location="Berlin, Germany",
        status=GigStatus.OPEN,
    )
    data_gig = GigWrite(
        title="Python data analyst, part time",
        description="Clean data with python and sql, build dashboards.",
        required_skills=["python", "sql"],
        remote=True,
        status=GigStatus.OPEN,
    )
    with rt.session() as session:
        owned = create_gig(session, rt, employer.user, gig)
        create_gig(session, rt, employer.user, data_gig)
        gig_id = owned.id
    assert gig_id is not None
    while refresh_stale(rt).claimed:
        pass
    return employer, student, candidate, gig_id


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The app on uvicorn in a thread, seeded; stopped after the module."""
    tmp = tmp_path_factory.mktemp("console")
    settings = Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite:///{tmp / 'console.db'}",
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
        rate_limit=GENEROUS_RATE_LIMITS,
    )
    rt = Runtime.open(settings, entities=ENTITIES, encoder=HashingEncoder(64))
    employer, student, candidate, gig_id = _seed(rt)
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, runtime=rt),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Console(f"http://127.0.0.1:{port}/", employer, student, candidate, gig_id, rt)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        rt.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless system Chromium (skips with the reason when there is none)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium: install Debian's `chromium` package or set GIGSY_TEST_CHROMIUM")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=executable,
            args=["--headless", "--no-sandbox", "--disable-gpu"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A fresh browser context (empty sessionStorage) on the console page."""
    context = browser.new_context()
    p = context.new_page()
    p.set_default_timeout(10_000)
    p.goto(console.url)
    yield p
    context.close()


PageAt = Callable[[int, int], "Page"]
"""Opens the console in a fresh context with a viewport of ``(width, height)`` CSS px."""


@pytest.fixture
def page_at(browser: Browser, console: Console) -> Iterator[PageAt]:
    """Fresh contexts (empty sessionStorage) on the console page at a given viewport size."""
    contexts = []

    def open_at(width: int, height: int) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        p = context.new_page()
        p.set_default_timeout(10_000)
        p.goto(console.url)
        return p

    yield open_at
    for context in contexts:
        context.close()


BROWSER_TESTS = Path(__file__).resolve().parent
AXE_SCRIPT = BROWSER_TESTS / "node_modules" / "axe-core" / "axe.min.js"
"""axe-core's browser build, as ``npm ci`` installs it from ``package-lock.json``."""


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The source of axe-core (``AXE_SCRIPT``), installed with ``npm ci`` when missing.

    Skips the test, saying why, when npm is not installed or the install fails
    (no network and no npm cache, for example).
    """
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("axe-core is not installed and there is no npm to install it")
        done = subprocess.run(
            [npm, "ci", "--prefix", str(BROWSER_TESTS), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not AXE_SCRIPT.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            pytest.skip(f"`npm ci --prefix tests/browser` failed: {' / '.join(tail)}")
    return AXE_SCRIPT.read_text(encoding="utf-8")


SERIOUS = ("serious", "critical")
"""axe-core impact levels a console view must have none of."""


def axe_violations(page: Page, source: str) -> list[str]:
    """Run axe-core on ``page`` as it is now; the serious and critical violations.

    The source is evaluated through the DevTools protocol, which the page's
    Content-Security-Policy does not govern (an injected ``<script>`` would be
    blocked as inline script). Each violation reads ``rule (impact): targets``.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await axe.run(document, { resultTypes: ["violations"] });
            return r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => n.target.join(" ")),
            }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'][:5])}"
        for v in found
        if v["impact"] in SERIOUS
    ]
