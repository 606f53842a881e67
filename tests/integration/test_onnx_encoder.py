"""The ONNX backends with the real all-MiniLM-L6-v2: the export agrees with PyTorch.

Exports go to the service's default model cache (``~/.cache/gigsy/models``), as on
first use of the service, so only the first run pays for them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexers import SentenceTransformerEncoder, SplitEncoder, load_encoder
from indexers.onnx_encoder import OnnxEncoder
from indexers.onnx_export import ensure_export
from search_service.settings import EmbeddingSettings

pytestmark = [pytest.mark.integration]

TEXTS = [
    "react developer with figma, weekends",
    "pastry chef",
    "   leading and trailing spaces   ",
    "Senior accountant: audit, tax, payroll. " * 60,  # past the 256 word-piece window
    "Étudiante en design graphique, Illustrator et InDesign",
    "",
]


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    return EmbeddingSettings().model_cache_dir


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return SentenceTransformerEncoder(query_cache_size=0).encode_documents(TEXTS)


@pytest.mark.parametrize(("backend", "floor"), [("onnx", 0.9999), ("onnx-int8", 0.97)])
def test_onnx_vectors_agree_with_torch(
    backend: str, floor: float, cache_dir: Path, torch_vectors: np.ndarray
) -> None:
    enc = load_encoder(None, backend=backend, cache_dir=cache_dir, query_cache_size=0)  # type: ignore[arg-type]
    assert isinstance(enc, OnnxEncoder)
    assert enc.name == f"all-MiniLM-L6-v2|{backend}"
    got = enc.encode_documents(TEXTS)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(got * torch_vectors, axis=1)
    assert cosines.min() > floor, cosines


def test_bf16_autocast_vectors_agree_with_fp32(torch_vectors: np.ndarray) -> None:
    enc = load_encoder(None, backend="torch-bf16", query_cache_size=0)
    assert isinstance(enc, SentenceTransformerEncoder)
    assert enc.name == "all-MiniLM-L6-v2|torch-bf16"
    got = enc.encode_documents(TEXTS)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(got * torch_vectors, axis=1)
    assert cosines.min() > 0.999, cosines


def test_split_encoder_embeds_queries_with_int8(cache_dir: Path, torch_vectors: np.ndarray) -> None:
    enc = load_encoder(None, backend="torch-bf16", query_backend="onnx-int8", cache_dir=cache_dir)
    assert isinstance(enc, SplitEncoder) and isinstance(enc.queries, OnnxEncoder)
    assert enc.name == "all-MiniLM-L6-v2|torch-bf16"
    q = enc.encode_query(TEXTS[0])
    assert q.shape == (384,) and float(q @ torch_vectors[0]) > 0.97


def test_order_and_batching_do_not_change_vectors(cache_dir: Path) -> None:
    enc = load_encoder(None, backend="onnx", cache_dir=cache_dir, batch_size=2)
    together = enc.encode_documents(TEXTS)
    alone = np.stack([enc.encode_documents([t])[0] for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    q = enc.encode_query("react developer")
    assert enc.encode_query("react developer") is q  # LRU cache hit
    np.testing.assert_allclose(q, enc.encode_documents(["react developer"])[0], atol=1e-6)


def test_second_load_reuses_the_export(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    load_encoder(None, backend="onnx", cache_dir=cache_dir)

    def no_export(*_: object, **__: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr("indexers.onnx_export._build", no_export)
    enc = load_encoder(None, backend="onnx", cache_dir=cache_dir)
    assert enc.dim == 384


def test_export_of_a_copied_model_is_verified(tmp_path: Path) -> None:
    """A full export from scratch (trace, check against PyTorch, manifest, rename)."""
    from indexers.encoders import default_model_path

    export = ensure_export(default_model_path(), tmp_path, precision="fp32", name="mini")
    assert export.model_file.is_file()
    assert (export.path / "tokenizer.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [export.path.name]
