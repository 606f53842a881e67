"""``gigsy-search`` starts without the heavy libraries: each command imports what it
needs, so ``--help`` answers at once. Checked on ``sys.modules`` of a fresh
interpreter, not by timing (timings are measured by hand: docs/cli.md)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "torch",
    "onnxruntime",
    "qdrant_edge",
    "qdrant_client",
    "sentence_transformers",
    "transformers",
    "numpy",
    "sqlalchemy",
    "fastapi",
)

_PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded(body: str) -> list[str]:
    code = _PROBE.format(body=body, heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded("import search_service.cli") == []


def test_help_loads_no_heavy_library() -> None:
    body = (
        "sys.argv = ['gigsy-search', '--help']\n"
        "from search_service.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
    )
    assert _loaded(body) == []


def test_the_probe_sees_a_heavy_import() -> None:
    # The check above could pass by never seeing anything: a known import must show.
    assert {"numpy", "qdrant_edge"} <= set(_loaded("import indexers\nindexers.Indexer"))
