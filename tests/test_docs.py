"""The documentation's links lead somewhere a reader can open.

Every relative Markdown link in the README, ``ARCHITECTURE.md``, ``docs/`` and
``benchmarks/README.md`` names a file of this repository, and its ``#anchor``, if
any, a heading of that file (GitHub's heading ids: lowercased, punctuation
dropped, spaces as hyphens). No document points outside the repository to a
design or planning document a reader of the repository cannot open.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [REPO / "README.md", REPO / "ARCHITECTURE.md", REPO / "benchmarks" / "README.md"]
    + list((REPO / "docs").glob("*.md"))
)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.MULTILINE)
_FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def heading_id(heading: str) -> str:
    """GitHub's id of a Markdown heading: ``Encoders (`encoders`)`` -> ``encoders-encoders``."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCED.sub("", path.read_text(encoding="utf-8"))
    return {heading_id(h) for h in _HEADING.findall(text)}


def _links(path: Path) -> list[str]:
    text = _FENCED.sub("", path.read_text(encoding="utf-8"))
    return [t for t in _LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def test_heading_ids_follow_github() -> None:
    assert heading_id("Encoders (`encoders`)") == "encoders-encoders"
    assert heading_id("Users, identity and money") == "users-identity-and-money"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    broken: list[str] = []
    for target in _links(doc):
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.is_file() or REPO not in dest.parents:
            broken.append(f"{target}: no such file in the repository")
        elif anchor and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{doc.relative_to(REPO)}: " + "; ".join(broken)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_document_outside_the_repository_is_cited(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text
    assert not re.search(r"\bseed \d{3}\b|\bworkstream\b", text, re.IGNORECASE)
