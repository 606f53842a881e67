"""Reading job postings from the LinkedIn CSV: rows, text, skills, remote, pay, employers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from search_service.gigs.jobs_csv import (
    JobPosting,
    JobsReadReport,
    Pay,
    company_key,
    employer_clerk_id,
    is_remote,
    pay_mentions,
    read_jobs,
    split_requirements,
)
from tests.conftest import SHARED_DATA

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "jobs_small.csv"
JOBS_CSV = SHARED_DATA / "jobs" / "linkedin_jobs_2023_sample.csv"


def _ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp()) * 1000


@pytest.fixture(scope="module")
def postings() -> dict[str, JobPosting]:
    return {p.job_id: p for p in read_jobs(FIXTURE)}


class TestReadJobs:
    def test_one_posting_per_job_id_in_first_seen_order_with_counts(self) -> None:
        report = JobsReadReport()
        ids = [p.job_id for p in read_jobs(FIXTURE, report=report)]
        assert ids == ["1001", "1002", "1003", "1004", "1007", "1008", "1009"]
        assert report == JobsReadReport(rows=10, duplicates=1, skipped=2, postings=7)

    def test_last_row_of_a_repeated_job_id_wins(self, postings: dict[str, JobPosting]) -> None:
        tutor = postings["1004"]
        assert "geometry online" in tutor.description
        assert tutor.posted_at == _ms(2023, 3, 17)
        assert tutor.remote is True
        assert (tutor.pay_minor, tutor.pay_currency, tutor.pay_unit) == (2000, "USD", "hour")

    def test_rows_without_title_or_description_are_skipped_and_logged(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="search_service.gigs.jobs_csv"):
            ids = {p.job_id for p in read_jobs(FIXTURE)}
        assert not ids & {"1005", "1006"}
        skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
        assert len(skipped) == 2
        assert any("1 rows repeat an earlier job_id" in r.getMessage() for r in caplog.records)

    def test_wrong_header_names_the_missing_columns(self, tmp_path: Path) -> None:
        path = tmp_path / "resumes.csv"
        path.write_text("ID,Category,Resume_str\n1,CHEF,Cook\n", encoding="utf-8")
        with pytest.raises(ValueError, match="job_id") as err:
            list(read_jobs(path))
        assert "description" in str(err.value) and "title" in str(err.value)

    def test_missing_file_raises(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError):
            list(read_jobs(tmp_path / "absent.csv"))

    def test_fields_dates_and_urls(self, postings: dict[str, JobPosting]) -> None:
        barista = postings["1001"]
        assert barista.title == "Barista ($16.50/hour)"
        assert barista.company == "Bean There Coffee LLC"
        assert barista.industry == "Restaurants"
        assert barista.job_function == "Other"
        assert barista.posted_at == _ms(2023, 3, 13)
        assert barista.url == "https://www.linkedin.com/jobs/view/1001"
        assert postings["1008"].posted_at == _ms(2023, 3, 1)  # four-digit year
        assert postings["1007"].posted_at is None  # "not a date"
        assert postings["1007"].url is None

    def test_description_is_cleaned_keeping_paragraphs(
        self, postings: dict[str, JobPosting]
    ) -> None:
        clerk = postings["1002"].description
        assert "\u00c2" not in clerk and "\u00a0" not in clerk
        assert "system. Type 50 words" in clerk
        assert "\n\n" not in clerk and "  " not in clerk
        assert clerk.split("\n")[:3] == [
            "Enter customer orders into our system. Type 50 words per minute.",
            "Minimum Qualifications",
            "Excel and Microsoft Word.",
        ]
        barista = postings["1001"].description
        assert barista.endswith("Latte art a plus.")  # LinkedIn's "Show less" dropped

    def test_required_and_nice_skills(self, postings: dict[str, JobPosting]) -> None:
        clerk = postings["1002"]
        # Required part: data entry twice (title + text), excel twice, word once; ties keep
        # first occurrence. The preferred section's excel is already required, so the nice
        # skills are only sql and quickbooks.
        assert clerk.required_skills == ["data entry", "excel", "word"]
        assert clerk.nice_skills == ["sql", "quickbooks"]
        dev = postings["1003"]
        assert dev.required_skills == ["javascript", "react", "typescript", "html", "css"]
        assert dev.nice_skills == []
        assert postings["1009"].nice_skills == ["canva", "photoshop"]
        cook = postings["1007"]
        assert cook.required_skills == ["food preparation", "cooking"]
        assert cook.nice_skills == []

    def test_remote(self, postings: dict[str, JobPosting]) -> None:
        remote = {job_id for job_id, p in postings.items() if p.remote}
        assert remote == {"1002", "1004", "1009"}  # title, "remote position", "Location:"

    def test_pay(self, postings: dict[str, JobPosting]) -> None:
        pay = {job_id: (p.pay_minor, p.pay_currency, p.pay_unit) for job_id, p in postings.items()}
        assert pay["1001"] == (1650, "USD", "hour")  # from the title
        assert pay["1008"] == (1900, "USD", "hour")  # "Hourly Wage: $19-$23"
        assert pay["1003"] == (None, None, None)  # yearly salary: not gig pay
        assert pay["1009"] == (None, None, None)  # "up to $30/hr": no lower bound
        assert pay["1007"] == (None, None, None)

    def test_same_company_spelt_differently_is_one_employer(
        self, postings: dict[str, JobPosting]
    ) -> None:
        a, b = postings["1002"].company, postings["1003"].company
        assert a != b
        assert company_key(a) == company_key(b) == "acme widgets"
        assert employer_clerk_id(a) == employer_clerk_id(b)
        ids = {employer_clerk_id(p.company) for p in postings.values()}
        assert len(ids) == 6  # seven postings, Acme twice


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Accounting Office Administrator ($18.00/hour)", [Pay(1800, "USD", "hour")]),
        ("$18 - $22 per hour", [Pay(1800, "USD", "hour")]),
        ("Pay Range: $20-25 per hour", [Pay(2000, "USD", "hour")]),
        ("Warehouse Associate- $20+/hourly", [Pay(2000, "USD", "hour")]),
        ("Mental Health Tech $21 - $25 / HR", [Pay(2100, "USD", "hour")]),
        ("$17.00 an hour", [Pay(1700, "USD", "hour")]),
        ("Paga: $13 por hora", [Pay(1300, "USD", "hour")]),
        ("pay is \\$18-\\$26/hr DOE", [Pay(1800, "USD", "hour")]),
        ("$18.807 to 25.098/hr, PLUS $3/hr differential", [Pay(1880, "USD", "hour")]),
        ("Base Hourly Compensation of between $31.00 and $45.00", [Pay(3100, "USD", "hour")]),
        ("$55,000/year", [Pay(5_500_000, "USD", "year")]),
        ("$40K-$50K per year", [Pay(4_000_000, "USD", "year")]),
        ("$1,000 per month", [Pay(100_000, "USD", "month")]),
        (
            "Pay: $18.50 - $22 per hour; $55,000/year",
            [Pay(1850, "USD", "hour"), Pay(5_500_000, "USD", "year")],
        ),
        ("Warehouse Loader - $20.39", []),
        ("$1000 Sign On Incentive", []),
        ("Compensation: $60k-$100k", []),
        ("hourly labor is a $2 trillion market", []),
        ("Competitive Pay Up to $35/hr", []),
        ("$15 and 20 years of history", []),
        ("$600/hour", []),
        ("", []),
    ],
)
def test_pay_mentions(text: str, expected: list[Pay]) -> None:
    assert pay_mentions(text) == expected


@pytest.mark.parametrize(
    ("title", "description", "expected"),
    [
        ("Customer Support (Remote)", "", True),
        ("Customer Service Agent - Starting at $17.00/hour - Remote", "", True),
        ("Work From Home Data Entry", "", True),
        ("Procurement Manager (Hybrid-Remote)", "", False),
        ("Clerk", "This position is fully remote.", True),
        ("Clerk", "Location: Remote - Must be in the U.S.", True),
        ("Clerk", "We are a remote-first company.", True),
        ("Clerk", "THIS IS NOT A REMOTE POSITION", False),
        ("Clerk", "This is not a hybrid or work from home position.", False),
        ("IT Technician", "Provide remote support and remote access.", False),
        ("Laborer", "May be required to work at remote locations.", False),
        ("Analyst", "This position is eligible for telework.", False),
    ],
)
def test_is_remote(title: str, description: str, expected: bool) -> None:
    assert is_remote(title, description) is expected


class TestSplitRequirements:
    def test_preferred_heading_starts_the_nice_part(self) -> None:
        text = "Excel required.\nSQL a plus.\nPreferred Qualifications\nTableau"
        assert split_requirements(text) == ("Excel required.", "SQL a plus.\nTableau")

    @pytest.mark.parametrize(
        "heading",
        [
            "Preferred Qualifications:",
            "PREFERRED QUALIFICATIONS",
            "Preferred-",
            "Desired Skills & Qualifications:",
            "Nice to have",
            "Nice-to-haves:",
            "Bonus points",
            "Pluses:",
            "Other Preferred Qualifications Sought Include",
            "Preferred Experience For Graphic Designer",
        ],
    )
    def test_headings(self, heading: str) -> None:
        assert split_requirements(f"Python\n{heading}\nFigma") == ("Python", "Figma")

    def test_heading_with_content_on_its_line(self) -> None:
        assert split_requirements("Python\nNice to have: Canva, Figma") == (
            "Python",
            "Canva, Figma",
        )

    def test_a_later_requirements_heading_ends_the_nice_part(self) -> None:
        text = "Preferred Qualifications\nTableau\nMinimum Qualifications\nExcel"
        assert split_requirements(text) == ("Minimum Qualifications\nExcel", "Tableau")

    def test_optional_sentences_inside_required_text(self) -> None:
        text = (
            "Strong Excel skills. SQL experience a plus. HubSpot preferred.\n"
            "CDL is preferred, but not required.\n"
            "ASE Certification (Preferred)\n"
            "Communication skills (Spanish a plus)\n"
            "Prefer 2 or more years of experience"
        )
        required, nice = split_requirements(text)
        assert required.split("\n") == [
            "Strong Excel skills.",
            "Communication skills (Spanish a plus)",
            "Prefer 2 or more years of experience",
        ]
        assert nice.split("\n") == [
            "SQL experience a plus.",
            "HubSpot preferred.",
            "CDL is preferred, but not required.",
            "ASE Certification (Preferred)",
        ]

    def test_no_heading_everything_required(self) -> None:
        assert split_requirements("Excel\nWord") == ("Excel\nWord", "")
        assert split_requirements("") == ("", "")


@pytest.mark.parametrize(
    ("company", "key"),
    [
        ("Tiffany & Co.", "tiffany"),
        ("Acme Widgets, Inc.", "acme widgets"),
        ("ACME   widgets", "acme widgets"),
        ("MKP Capital Management, L.L.C.", "mkp capital management"),
        ("The Erosion Company (TEC)", "erosion"),
        ("Ace/Avant Concrete Construction Co., Inc.", "ace avant concrete construction"),
        ("Whirlpool Corporation", "whirlpool"),
        ("Virginia Pediatric Group Ltd.", "virginia pediatric group"),
        ("Coborn's, Inc.", "coborns"),
        ("Café Nürnberg GmbH", "cafe nurnberg"),
        ("Company", "company"),
        ("The Company", "company"),
        ("   ", ""),
    ],
)
def test_company_key(company: str, key: str) -> None:
    assert company_key(company) == key


class TestEmployerClerkId:
    def test_shape_and_stability(self) -> None:
        clerk_id = employer_clerk_id("Acme Widgets, Inc.")
        assert clerk_id.startswith("import:company:acme-widgets-")
        assert len(clerk_id.rsplit("-", 1)[1]) == 12
        assert employer_clerk_id("acme widgets") == clerk_id

    def test_distinct_companies_stay_distinct_when_slugs_collide(self) -> None:
        tokyo, osaka = employer_clerk_id("東京商事"), employer_clerk_id("大阪商事")
        assert tokyo != osaka
        assert tokyo.startswith("import:company:company-")
        long_a, long_b = "x" * 300 + " alpha", "x" * 300 + " beta"
        assert employer_clerk_id(long_a) != employer_clerk_id(long_b)
        assert len(employer_clerk_id(long_a)) <= 255

    def test_blank_company_is_refused(self) -> None:
        with pytest.raises(ValueError, match="no letters or digits"):
            employer_clerk_id(" .,- ")


@pytest.mark.realdata
def test_real_jobs_csv() -> None:
    if not JOBS_CSV.is_file():
        pytest.skip(f"real data not found at {JOBS_CSV} (needs ../shared/data)")
    report = JobsReadReport()
    postings = list(read_jobs(JOBS_CSV, report=report))
    assert len(postings) == 984
    assert (report.rows, report.duplicates, report.skipped) == (1000, 16, 0)
    assert len({p.job_id for p in postings}) == 984
    # Measured: 800 of the 984 postings (81%) get at least one required skill; the rest
    # are mostly trades (automotive technicians, construction labourers, carpenters) and
    # short school postings (aides, counsellors), whose skills the student-gig taxonomy
    # does not list. 75% leaves room for taxonomy edits and still catches broken extraction.
    with_skills = sum(1 for p in postings if p.required_skills)
    assert with_skills / len(postings) >= 0.75
    assert all(len(p.required_skills) <= 10 and len(p.nice_skills) <= 10 for p in postings)
    assert all(not set(p.required_skills) & set(p.nice_skills) for p in postings)
    assert all("\u00c2" not in p.description and "\n\n" not in p.description for p in postings)
    assert all(p.posted_at is not None for p in postings)
    # Measured: 138 hourly rates, 52 remote postings; loose bounds catch a broken regex.
    hourly = [p.pay_minor for p in postings if p.pay_minor is not None]
    assert 100 <= len(hourly) <= 200
    assert all(500 <= cents <= 50_000 for cents in hourly)
    assert 30 <= sum(p.remote for p in postings) <= 80
