"""Job postings to resume categories: clear titles map, ambiguous ones do not."""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass

import pytest

from benchmarks.categories import CATEGORIES, RULES, job_category, mapping_report
from search_service.gigs.jobs_csv import read_jobs
from tests.conftest import RESUMES_CSV, SHARED_DATA

JOBS_CSV = SHARED_DATA / "jobs" / "linkedin_jobs_2023_sample.csv"


@pytest.mark.parametrize(
    ("title", "category"),
    [
        ("High School Math Teacher", "TEACHER"),
        ("Adjunct Instructor College Success", "TEACHER"),
        ("Paraeducator", "TEACHER"),
        ("Accountant", "ACCOUNTANT"),
        ("Bookkeeper", "ACCOUNTANT"),
        ("Accounts Receivable Specialist", "ACCOUNTANT"),
        ("IT Support Specialist", "INFORMATION-TECHNOLOGY"),
        ("Help Desk Support Technician I", "INFORMATION-TECHNOLOGY"),
        ("Junior Software Developer", "INFORMATION-TECHNOLOGY"),
        ("Certified Nursing Assistant (CNA)", "HEALTHCARE"),
        ("New Graduate (RN) - NICU", "HEALTHCARE"),
        ("Pharmacy Technician or Pharmacy Clerk", "HEALTHCARE"),
        ("Food Service Cook", "CHEF"),
        ("Sous Chef", "CHEF"),
        ("Outside Sales Representative", "SALES"),
        ("HR Generalist", "HR"),
        ("Corporate Recruiter", "HR"),
        ("Graphic Designer", "DESIGNER"),
        ("Instructional Designer – New Joiner Onboarding Program", "DESIGNER"),
        ("Assistant Civil Engineer", "ENGINEERING"),
        ("Construction Laborer", "CONSTRUCTION"),
        ("Journeyman Electricians", "CONSTRUCTION"),
        ("Automotive Mechanic", "AUTOMOBILE"),
        ("Entry-Level Automotive Technician", "AUTOMOBILE"),
        ("Aviation Mechanic", "AVIATION"),
        ("Seasonal Teller", "BANKING"),
        ("Jr. Loan Officer", "BANKING"),
        ("Senior Financial Analyst, FP&A", "FINANCE"),
        ("Patient Advocate", "ADVOCATE"),
        ("Group Fitness Instructor", "FITNESS"),
        ("Personal Trainer", "FITNESS"),
        ("VP, Business Development - Remote", "BUSINESS-DEVELOPMENT"),
        ("Engagement Manager - Strategy Consulting", "CONSULTANT"),
        ("Media and Communications Coordinator II", "PUBLIC-RELATIONS"),
        ("Public Relations Specialist", "PUBLIC-RELATIONS"),
        ("Social Media Coordinator", "DIGITAL-MEDIA"),
        ("Call Center Representative", "BPO"),
        ("Customer Service Representative", "BPO"),
        ("Farm workers and laborers; Crop", "AGRICULTURE"),
        ("Fashion Designer", "DESIGNER"),  # the role (designer) is in the title rules first
        ("Apparel Merchandiser", "APPAREL"),
    ],
)
def test_clear_titles_map(title: str, category: str) -> None:
    assert job_category(title, "", "") == category


@pytest.mark.parametrize(
    "title",
    [
        "Manager",
        "Associate",
        "Operations Manager",
        "General Manager",
        "Team Member",
        "Cashier",
        "Data Analyst",
        "Business Analyst",
        "Administrative Assistant",
        "Executive Assistant",
        "Marketing Coordinator",
        "Copywriter",
        "Delivery Driver",
        "Warehouse Associate",
        "Housekeeper",
        "Barista - PT",
        "Fiber Splicer",
        "Attorney",  # ADVOCATE resumes are patient/customer advocates, not lawyers
        "Paralegal",
        "Non Instructional Aide",
        "",
    ],
)
def test_ambiguous_titles_stay_unmapped(title: str) -> None:
    assert job_category(title, "Other", "Retail") is None


@pytest.mark.parametrize(
    ("title", "category"),
    [
        # The role beats the domain it is in.
        ("Software Sales Representative", "SALES"),
        ("Healthcare Recruiter", "HR"),
        ("Director Hospital Human Resources", "HR"),
        ("Marketing Education Teacher", "TEACHER"),
        ("Superintendent's Academy Lead Teacher", "TEACHER"),
        ("Bank Teller/Customer Service Representative- Floater", "BANKING"),
        ("Call Center Service Consultant", "BPO"),
        ("Sales Consultant", "SALES"),
        ("Business Development and Sales Manager", "BUSINESS-DEVELOPMENT"),
        ("Director, Accounting and FP&A", "ACCOUNTANT"),
        ("Patient Financial Services Representative (Remote)", "HEALTHCARE"),
        ("Social Media Marketing Manager", "DIGITAL-MEDIA"),
        # Stopping rules: the keyword next to the role would mislead a later rule.
        ("Sales Showroom Receptionist Mercedes-Benz", None),
        ("Receptionist / Concierge - 1st Century Bank", None),
        ("Maintenance Engineer II, Electrical", None),
        ("Warehouse Foreman", None),
        ("PART-TIME ADMISSIONS RECRUITER", None),
        # Abbreviations are case-sensitive, and a pay rate's "/ HR" is not HR.
        ("HR Assistant", "HR"),
        ("Mental Health Tech - Training Provided $21 - $25 / HR", "HEALTHCARE"),
        ("IT Manager", "INFORMATION-TECHNOLOGY"),
        ("Bring it on", None),
        # "Telecommunications" is not "communications"; "Salesforce" is not "sales".
        ("Telecommunications Electrician", "CONSTRUCTION"),
        ("Salesforce Administrator", None),
    ],
)
def test_precedence(title: str, category: str | None) -> None:
    assert job_category(title, "", "") == category


@pytest.mark.parametrize(
    ("title", "function", "industry", "category"),
    [
        ("Superintendent", "Management and Manufacturing", "Construction", "CONSTRUCTION"),
        ("Superintendent", "Education and Training", "Primary and Secondary Education", None),
        ("General Labor", "Other", "Construction", "CONSTRUCTION"),
        ("General Labor", "Distribution and Supply Chain", "Truck Transportation", None),
        (
            "BMW Service Technician",
            "Information Technology",
            "Motor Vehicle Manufacturing",
            "AUTOMOBILE",
        ),
        ("Telecom Technician I", "Information Technology", "Telecommunications", None),
        ("Branch Manager", "Sales and Business Development", "Banking", "BANKING"),
        ("Branch Manager", "Sales and Business Development", "Retail", None),
        # Function fallbacks: generic support titles only.
        ("Payroll Specialist", "Accounting/Auditing and Finance", "Construction", "ACCOUNTANT"),
        ("Insurance Collections Representative", "Accounting/Auditing and Finance", "", None),
        ("Training Specialist-Remote", "Human Resources", "Hospitals and Health Care", "HR"),
        ("Security Officer", "Human Resources", "Technology, Information and Internet", None),
        ("Fiber Splicer", "Information Technology", "Telecommunications", None),
    ],
)
def test_industry_and_function_conditions(
    title: str, function: str, industry: str, category: str | None
) -> None:
    assert job_category(title, function, industry) == category


def test_categories_and_rules_are_consistent() -> None:
    assert len(CATEGORIES) == 24 == len(set(CATEGORIES))
    assert list(CATEGORIES) == sorted(CATEGORIES)
    assert {r.category for r in RULES} - {None} <= set(CATEGORIES)


@dataclass(frozen=True)
class _Posting:
    title: str
    job_function: str = ""
    industry: str = ""


def test_mapping_report_counts_every_category_and_unmapped() -> None:
    postings = [
        _Posting("Teacher"),
        _Posting("Elementary Teacher"),
        _Posting("Cook"),
        _Posting("Manager"),
        _Posting("Estimator", industry="Construction"),
    ]
    report = mapping_report(postings)
    assert list(report) == [*CATEGORIES, "unmapped"]
    assert report["TEACHER"] == 2
    assert report["CHEF"] == 1
    assert report["CONSTRUCTION"] == 1
    assert report["unmapped"] == 1
    assert sum(report.values()) == len(postings)
    assert mapping_report([]) == dict.fromkeys([*CATEGORIES, "unmapped"], 0)


@pytest.mark.realdata
def test_categories_are_the_resume_csv_categories() -> None:
    if not RESUMES_CSV.is_file():
        pytest.skip(f"real data not found at {RESUMES_CSV} (needs ../shared/data)")
    csv.field_size_limit(sys.maxsize)
    with RESUMES_CSV.open(encoding="utf-8", newline="") as fh:
        found = {row["Category"] for row in csv.DictReader(fh)}
    assert found == set(CATEGORIES)


@pytest.mark.realdata
def test_mapping_report_on_real_jobs() -> None:
    if not JOBS_CSV.is_file():
        pytest.skip(f"real data not found at {JOBS_CSV} (needs ../shared/data)")
    report = mapping_report(read_jobs(JOBS_CSV))
    assert sum(report.values()) == 984
    # Measured: 424 of 984 postings mapped (43%). Bounds catch a rule that stops matching
    # or starts matching everything.
    assert 350 <= 984 - report["unmapped"] <= 500
    for category in ("TEACHER", "HR", "CONSTRUCTION", "HEALTHCARE", "BANKING", "BPO"):
        assert report[category] >= 15, category
