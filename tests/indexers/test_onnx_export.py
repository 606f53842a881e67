"""The ONNX export cache: built once, reused, rebuilt when partial or damaged.

The export itself (tracing the real model) is replaced by a fake that writes a
small file, so these tests check the cache's bookkeeping only; the real export
is exercised in ``tests/integration/test_onnx_encoder.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from indexers import EncoderError
from indexers.onnx_export import EXPORT_FORMAT, ensure_export, read_export


class _FakeBuild:
    """Stands in for ``_build``: writes ``model.onnx`` and a matching manifest."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self, source: Path, dest: Path, *, precision: str, key: str) -> None:
        self.calls += 1
        if self.fail:
            (dest / "model.onnx").write_bytes(b"half")
            raise RuntimeError("exporter crashed")
        data = f"graph {precision} {key} {self.calls}".encode()
        (dest / "model.onnx").write_bytes(data)
        manifest = {
            "format": EXPORT_FORMAT,
            "precision": precision,
            "dim": 8,
            "max_seq_length": 16,
            "inputs": ["input_ids", "attention_mask"],
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        (dest / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture
def build(monkeypatch: pytest.MonkeyPatch) -> _FakeBuild:
    fake = _FakeBuild()
    monkeypatch.setattr("indexers.onnx_export._build", fake)
    return fake


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "model"
    src.mkdir()
    (src / "model.safetensors").write_bytes(b"weights v1")
    (src / "config.json").write_text("{}", encoding="utf-8")
    return src


def test_first_use_exports_into_the_cache(build: _FakeBuild, source: Path, tmp_path: Path) -> None:
    export = ensure_export(source, tmp_path / "cache", precision="fp32", name="mini")
    assert build.calls == 1
    assert export.path.parent == tmp_path / "cache"
    assert export.path.name.startswith("mini-fp32-")
    assert (export.dim, export.max_seq_length, export.precision) == (8, 16, "fp32")
    assert export.inputs == ("input_ids", "attention_mask")
    # Only the final directory is left: the temporary one was renamed.
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [export.path.name]


def test_second_load_does_not_re_export(build: _FakeBuild, source: Path, tmp_path: Path) -> None:
    first = ensure_export(source, tmp_path / "cache", precision="fp32")
    second = ensure_export(source, tmp_path / "cache", precision="fp32")
    assert build.calls == 1
    assert second == first


def test_precisions_and_weights_get_their_own_exports(
    build: _FakeBuild, source: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    fp32 = ensure_export(source, cache, precision="fp32")
    int8 = ensure_export(source, cache, precision="int8")
    (source / "model.safetensors").write_bytes(b"weights v2")
    retrained = ensure_export(source, cache, precision="fp32")
    assert len({fp32.path, int8.path, retrained.path}) == 3
    assert build.calls == 3


def test_a_damaged_export_is_rebuilt(build: _FakeBuild, source: Path, tmp_path: Path) -> None:
    export = ensure_export(source, tmp_path / "cache", precision="int8")
    export.model_file.write_bytes(b"truncated")
    assert read_export(export.path) is None
    again = ensure_export(source, tmp_path / "cache", precision="int8")
    assert build.calls == 2
    assert again.path == export.path
    assert read_export(again.path) == again


def test_an_export_without_manifest_is_rebuilt(
    build: _FakeBuild, source: Path, tmp_path: Path
) -> None:
    export = ensure_export(source, tmp_path / "cache", precision="fp32")
    (export.path / "manifest.json").unlink()
    ensure_export(source, tmp_path / "cache", precision="fp32")
    assert build.calls == 2
    assert read_export(export.path) is not None


def test_a_manifest_of_another_format_is_rebuilt(
    build: _FakeBuild, source: Path, tmp_path: Path
) -> None:
    export = ensure_export(source, tmp_path / "cache", precision="fp32")
    manifest = json.loads((export.path / "manifest.json").read_text(encoding="utf-8"))
    manifest["format"] = EXPORT_FORMAT + 1
    (export.path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    ensure_export(source, tmp_path / "cache", precision="fp32")
    assert build.calls == 2


def test_a_failed_export_leaves_nothing_and_raises(
    build: _FakeBuild, source: Path, tmp_path: Path
) -> None:
    build.fail = True
    with pytest.raises(EncoderError, match="exporter crashed"):
        ensure_export(source, tmp_path / "cache", precision="fp32")
    assert list((tmp_path / "cache").iterdir()) == []
    build.fail = False
    export = ensure_export(source, tmp_path / "cache", precision="fp32")
    assert read_export(export.path) is not None


def test_a_leftover_temporary_directory_is_ignored(
    build: _FakeBuild, source: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = ensure_export(source, cache, precision="fp32")
    # What a crash mid-export leaves: a hidden sibling with a partial file.
    partial = cache / f".{first.path.name}.crashed"
    partial.mkdir()
    (partial / "model.onnx").write_bytes(b"half")
    assert ensure_export(source, cache, precision="fp32") == first
    assert build.calls == 1
