"""The README's shell examples run as written against a served demo.

Every ```` ```sh ```` and ```` ```bash ```` block of ``README.md``, then of
``docs/api.md`` (whose examples use the variables the README sets), runs in
order in one bash session under ``set -euo pipefail``: an unset variable, a
failing command or a curl answered with a 4xx or 5xx (every curl passes
``-f``) fails the test and names the block. A block preceded by the line
``<!-- not run -->`` is skipped (``make run`` itself). The session starts with
the ``export`` lines the demo printed, pasted as the README says; the service is
``gigsy-search demo --count 60`` and ``serve`` on the hashing encoder in a
temporary data directory, on a free loopback port that replaces the README's
``http://127.0.0.1:8000``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "docs/api.md")
"""Run in this order, in one session: the API reference uses the README's variables."""
NOT_RUN = "<!-- not run -->"
README_BASE = "http://127.0.0.1:8000"
DEMO_STUDENTS = 60
READY_S = 60.0
RUN_TIMEOUT_S = 180.0

_FENCE = re.compile(r"^```(\w*)\s*$")
_EXPORT = re.compile(r"^export [A-Z_]+=\S+")
_MARK = re.compile(r"^::block (\d+)::$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """One fenced shell block: where it starts (1-based line of the fence) and its text."""

    source: str
    line: int
    text: str


def shell_blocks(markdown: str, source: str = "") -> list[Block]:
    """The ``sh``/``bash`` fenced blocks of ``markdown`` in order, without those whose
    fence follows a ``<!-- not run -->`` line (blank lines between are allowed)."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        start, lang = i, fence.group(1)
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        i += 1
        before = [line.strip() for line in lines[:start] if line.strip()]
        skipped = bool(before) and before[-1] == NOT_RUN
        if lang in ("sh", "bash") and not skipped:
            blocks.append(Block(source, start + 1, "\n".join(body)))
    return blocks


def _document_blocks() -> list[Block]:
    out: list[Block] = []
    for name in DOCUMENTS:
        out.extend(shell_blocks((REPO / name).read_text(encoding="utf-8"), name))
    return out


class TestShellBlocks:
    def test_blocks_come_in_order_and_marked_ones_are_skipped(self) -> None:
        text = (
            "intro\n<!-- not run -->\n\n```sh\nmake run\n```\n"
            "```bash\necho one\n```\n```json\n{}\n```\n```sh\necho two\necho three\n```\n"
        )
        blocks = shell_blocks(text, "x.md")
        assert [b.text for b in blocks] == ["echo one", "echo two\necho three"]
        assert [b.line for b in blocks] == [7, 13]

    def test_the_readme_has_blocks_to_run_and_few_that_are_not(self) -> None:
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        assert len(shell_blocks(readme)) >= 8
        assert readme.count(NOT_RUN) <= 2

    def test_every_curl_fails_on_an_http_error(self) -> None:
        """With ``-f`` a 4xx or 5xx is a failed command, so ``set -e`` stops the block."""
        for block in _document_blocks():
            for call in re.finditer(r"\bcurl((?:\s+-[A-Za-z]+)*)", block.text):
                flags = call.group(1).replace("-", "")
                assert "f" in flags, f"{block.source}:{block.line}: curl without -f"

    def test_the_tools_are_named_before_the_first_block(self) -> None:
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        first = shell_blocks(readme)[0]
        before = "\n".join(readme.splitlines()[: first.line])
        assert "`curl`" in before and "`jq`" in before

    def test_the_readme_is_short(self) -> None:
        lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
        assert len(lines) <= 250


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _service_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without any database, store or other ``GIGSY_``
    setting, on a fresh data directory and the hashing encoder."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GIGSY_")
        and k not in ("DATABASE_URL", "QDRANT_URL", "EMBEDDING_MODEL", "BASE")
    }
    env.update(
        GIGSY_DATA_DIR=str(data_dir),
        GIGSY_EMBEDDING__MODEL="hashing",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


@dataclass
class Demo:
    """A served demo: its base URL, the environment its commands need, and the
    ``export`` lines the demo printed."""

    base_url: str
    env: dict[str, str]
    exports: list[str]


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[Demo]:
    """``gigsy-search demo`` then ``serve`` on a free port; stopped afterwards."""
    env = _service_env(tmp_path / "var")
    demo = subprocess.run(
        [sys.executable, "-m", "search_service.cli", "demo", "--count", str(DEMO_STUDENTS)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    exports = [line for line in demo.stdout.splitlines() if _EXPORT.match(line)]
    assert len(exports) == 2, demo.stdout

    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "search_service.cli", "serve"]
            + ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve not ready within {READY_S} s:\n{log.read_text()}")
            time.sleep(0.1)
        yield Demo(base, env, exports)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def _script(blocks: list[Block], exports: list[str], base_url: str) -> str:
    """One bash session: strict mode, the pasted ``export`` lines, then each block
    after a marker line, with the README's address replaced by the served one."""
    parts = ["set -euo pipefail", *exports]
    for n, block in enumerate(blocks):
        parts.append(f"printf '\\n::block {n}::\\n'")
        parts.append(block.text.replace(README_BASE, base_url))
    parts.append("printf '\\n::block end::\\n'")
    return "\n".join(parts) + "\n"


@pytest.mark.skipif(shutil.which("bash") is None, reason="the README's examples need bash")
@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples need curl")
@pytest.mark.skipif(
    shutil.which("jq") is None, reason="the README's examples need jq (apt-get install -y jq)"
)
@pytest.mark.skipif(
    not (REPO / ".venv" / "bin" / "gigsy-search").exists(),
    reason="the README's examples call .venv/bin/gigsy-search (make install)",
)
def test_the_shell_blocks_run_against_a_served_demo(served_demo: Demo) -> None:
    blocks = _document_blocks()
    run = subprocess.run(
        ["bash", "-c", _script(blocks, served_demo.exports, served_demo.base_url)],
        cwd=REPO,
        env=served_demo.env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    reached = [int(n) for n in _MARK.findall(run.stdout)]
    if run.returncode != 0:
        block = blocks[reached[-1]] if reached else None
        where = f"{block.source}:{block.line}" if block else "before the first block"
        pytest.fail(
            f"the block at {where} failed (exit {run.returncode}):\n"
            f"{block.text if block else ''}\n--- stderr ---\n{run.stderr[-3000:]}"
            f"\n--- stdout ---\n{run.stdout[-2000:]}"
        )
    assert reached == list(range(len(blocks))), run.stdout
    assert run.stdout.rstrip().endswith("::block end::"), run.stdout[-2000:]
