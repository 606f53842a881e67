"""Resume fields parsed from section headers, and the template clean-up."""

from __future__ import annotations

from benchmarks.resume_sections import FIELDS, clean_lines, parse_sections

RESUME = """INVESTMENT ACCOUNTANT
Career Focus
Accomplished investment professional.
Summary of Skills
MS Excel, Pivot Tables
Professional Experience
Company Name
 
City
 
, 
State
 
Investment Accountant
 
10/2012
 
to 
Current
Reconciled mutual fund accounts for [Number]% of clients.
Enter outstanding achievements that show you can go above and beyond.
Education
Bachelor of Science : Accounting
Interests
Chess &amp; hiking
"""


class TestParseSections:
    def test_headers_route_lines_to_their_fields(self) -> None:
        got = parse_sections(RESUME)
        assert got.title == "INVESTMENT ACCOUNTANT"
        assert got.summary == "Accomplished investment professional."
        assert got.skills == "MS Excel, Pivot Tables"
        assert got.experience.startswith("Company Name\nCity\n,\nState\nInvestment Accountant")
        assert got.education == "Bachelor of Science : Accounting"
        assert got.other == "Chess &amp; hiking"
        assert [f for f, _ in got.sections] == ["summary", "skills", "experience", "education",
                                                 "other"]  # fmt: skip
        assert all(got.get(f) is not None for f in FIELDS)

    def test_header_lines_are_not_text(self) -> None:
        got = parse_sections(RESUME)
        text = "\n".join(got.get(f) for f in FIELDS)
        assert "Career Focus" not in text
        assert "Professional Experience" not in text

    def test_clean_drops_the_template(self) -> None:
        got = parse_sections(RESUME, clean=True)
        assert got.experience == (
            "Investment Accountant\nReconciled mutual fund accounts for % of clients."
        )
        assert got.other == "Chess hiking"

    def test_text_before_any_header_is_other(self) -> None:
        got = parse_sections("CHEF\nPastry and bread.\nSkills\nBaking")
        assert (got.title, got.other, got.skills) == ("CHEF", "Pastry and bread.", "Baking")

    def test_empty_text_has_empty_fields(self) -> None:
        got = parse_sections("")
        assert all(got.get(f) == "" for f in FIELDS)
        assert got.sections == ()


def test_clean_lines_keeps_the_candidates_words() -> None:
    lines = ["Company Name", "[Job Title]", "January 2009 to September 2011", "Sous chef",
             "accountantÃ†s ledger", "<b>Payroll</b>", "â€¢ Budgets &amp; audits"]  # fmt: skip
    assert clean_lines(lines) == ["Sous chef", "accountant s ledger", "Payroll", "Budgets audits"]
