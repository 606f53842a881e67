"""Settings: GIGSY_ prefix, nested groups, the plain names of DESIGN.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from indexers import Fusion, FusionSpec, HashingEncoder, Norm
from search_service.entities import ENTITIES
from search_service.settings import EmbeddingSettings, Settings


def test_defaults_use_var_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "QDRANT_URL", "EMBEDDING_MODEL"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.sqlalchemy_url == f"sqlite:///{Path('var') / 'gigsy.db'}"
    assert s.qdrant.url is None
    assert s.qdrant_path == Path("var") / "qdrant"
    assert s.search.fusion_spec == FusionSpec(Fusion.DBSF, dense_weight=1.0, keyword_weight=2.0)


def test_prefixed_nested_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIGSY_QDRANT__URL", "http://qdrant:6333")
    monkeypatch.setenv("GIGSY_SEARCH__FUSION", "dbsf")
    s = Settings()
    assert s.qdrant.url == "http://qdrant:6333"
    assert s.search.fusion is Fusion.DBSF


def test_plain_design_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("QDRANT_URL", "http://q:6333")
    monkeypatch.setenv("EMBEDDING_MODEL", "hashing")
    s = Settings()
    assert s.sqlalchemy_url == "postgresql+psycopg://u@h/db"
    assert s.qdrant.url == "http://q:6333"
    assert s.embedding.model == "hashing"


def test_prefixed_name_wins_over_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDRANT_URL", "http://plain:6333")
    monkeypatch.setenv("GIGSY_QDRANT__URL", "http://prefixed:6333")
    assert Settings().qdrant.url == "http://prefixed:6333"


def test_log_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().log.level, Settings().log.format) == ("INFO", "text")
    monkeypatch.setenv("GIGSY_LOG__FORMAT", "JSON")
    monkeypatch.setenv("GIGSY_LOG__LEVEL", "debug")
    s = Settings()
    assert (s.log.level, s.log.format) == ("DEBUG", "json")
    monkeypatch.setenv("GIGSY_LOG__FORMAT", "xml")
    with pytest.raises(ValidationError):
        Settings()


def test_input_limits_default_and_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = Settings()
    assert (s.http.max_body_bytes, s.http.max_json_depth) == (1_048_576, 32)
    assert s.user_data.max_keys == 100
    monkeypatch.setenv("GIGSY_HTTP__MAX_BODY_BYTES", "65536")
    monkeypatch.setenv("GIGSY_HTTP__MAX_JSON_DEPTH", "16")
    monkeypatch.setenv("GIGSY_USER_DATA__MAX_KEYS", "7")
    s = Settings()
    assert (s.http.max_body_bytes, s.http.max_json_depth) == (65_536, 16)
    assert s.user_data.max_keys == 7


def test_fusion_settings_become_the_store_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIGSY_SEARCH__FUSION", "convex")
    monkeypatch.setenv("GIGSY_SEARCH__ALPHA", "0.3")
    monkeypatch.setenv("GIGSY_SEARCH__NORM", "tmm")
    monkeypatch.setenv("GIGSY_SEARCH__KEYWORD_WEIGHT", "1.5")
    spec = Settings().search.fusion_spec
    assert spec == FusionSpec(Fusion.CONVEX, keyword_weight=1.5, alpha=0.3, norm=Norm.TMM)


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALPHA", "1.5"), ("DENSE_WEIGHT", "-1"), ("FUSION", "borda"), ("NORM", "zscore")],
)
def test_bad_fusion_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"GIGSY_SEARCH__{name}", value)
    with pytest.raises(ValidationError):
        Settings()


def test_both_fusion_weights_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIGSY_SEARCH__DENSE_WEIGHT", "0")
    monkeypatch.setenv("GIGSY_SEARCH__KEYWORD_WEIGHT", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_both_recommendation_weights_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIGSY_SEARCH__RECOMMEND_DENSE_WEIGHT", "0")
    monkeypatch.setenv("GIGSY_SEARCH__RECOMMEND_KEYWORD_WEIGHT", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_recommendations_fuse_with_their_own_list_weights(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GIGSY_SEARCH__RECOMMEND_DENSE_WEIGHT", "3")
    search = Settings().search
    spec = search.recommend_fusion_spec
    assert (spec.dense_weight, spec.keyword_weight) == (3.0, search.recommend_keyword_weight)
    assert (spec.method, spec.rrf_k) == (search.fusion, search.rrf_k)
    assert search.fusion_spec.dense_weight == search.dense_weight  # search keeps its own


class TestEncoderSettings:
    def test_default_backends_are_auto(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("GIGSY_EMBEDDING__BACKEND", raising=False)
        monkeypatch.delenv("GIGSY_EMBEDDING__QUERY_BACKEND", raising=False)
        emb = Settings().embedding
        assert (emb.backend, emb.query_backend) == ("auto", "auto")

    @pytest.mark.parametrize(("native", "expected"), [(True, "torch-bf16"), (False, "onnx-int8")])
    def test_auto_documents_follow_the_cpu(
        self, monkeypatch: pytest.MonkeyPatch, native: bool, expected: str
    ) -> None:
        monkeypatch.delenv("GIGSY_EMBEDDING__BACKEND", raising=False)
        monkeypatch.setattr("indexers.encoders.native_bf16", lambda: native)
        assert Settings().embedding.document_backend == expected

    def test_auto_queries_take_onnx_int8(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("GIGSY_EMBEDDING__QUERY_BACKEND", raising=False)
        assert Settings().embedding.resolved_query_backend == "onnx-int8"

    def test_explicit_backends_are_kept(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GIGSY_EMBEDDING__BACKEND", "torch")
        monkeypatch.setenv("GIGSY_EMBEDDING__QUERY_BACKEND", "torch")
        emb = Settings().embedding
        assert (emb.document_backend, emb.resolved_query_backend) == ("torch", "torch")

    @pytest.mark.parametrize("backend", ["torch", "torch-bf16", "onnx", "onnx-int8"])
    def test_backend_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch, backend: str
    ) -> None:
        monkeypatch.setenv("GIGSY_EMBEDDING__BACKEND", backend)
        assert Settings().embedding.backend == backend

    def test_unknown_backend_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GIGSY_EMBEDDING__BACKEND", "tensorrt")
        with pytest.raises(ValidationError):
            Settings()

    def test_model_cache_dir_defaults_under_xdg_cache_home(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.delenv("GIGSY_EMBEDDING__CACHE_DIR", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert Settings().embedding.model_cache_dir == tmp_path / "gigsy" / "models"

    def test_model_cache_dir_and_threads_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("GIGSY_EMBEDDING__CACHE_DIR", str(tmp_path / "exports"))
        monkeypatch.setenv("GIGSY_EMBEDDING__THREADS", "2")
        emb = Settings().embedding
        assert (emb.model_cache_dir, emb.threads) == (tmp_path / "exports", 2)

    def test_runtime_builds_the_configured_backend(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        from search_service.runtime import Runtime

        seen: dict[str, object] = {}

        def fake_load(model: str | None, **kwargs: object) -> HashingEncoder:
            seen.update(kwargs, model=model)
            return HashingEncoder()

        monkeypatch.setattr("search_service.runtime.load_encoder", fake_load)
        settings = Settings(
            data_dir=tmp_path / "var",
            embedding=EmbeddingSettings(backend="onnx", cache_dir=tmp_path / "m", threads=1),
        )
        rt = Runtime.open(settings, entities=ENTITIES)
        try:
            assert isinstance(rt.encoder, HashingEncoder)
        finally:
            rt.close()
        assert seen["backend"] == "onnx"
        assert seen["cache_dir"] == tmp_path / "m"
        assert seen["threads"] == 1


class TestTrustedProxies:
    def test_none_by_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("GIGSY_HTTP__TRUSTED_PROXIES", raising=False)
        assert Settings().http.trusted_proxies == []

    @pytest.mark.parametrize(
        "value",
        ["10.0.0.1, 192.168.0.0/16,::1", '["10.0.0.1", "192.168.0.0/16", "::1"]'],
    )
    def test_a_list_or_json_array_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("GIGSY_HTTP__TRUSTED_PROXIES", value)
        assert Settings().http.trusted_proxies == ["10.0.0.1", "192.168.0.0/16", "::1"]

    @pytest.mark.parametrize("value", ["*", "10.0.0.1,*", "0.0.0.0/0", "::/0"])
    def test_a_wildcard_is_refused(self, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
        monkeypatch.setenv("GIGSY_HTTP__TRUSTED_PROXIES", value)
        with pytest.raises(ValidationError, match="from every client"):
            Settings()

    @pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.5/8", "10.0.0.0/33"])
    def test_what_is_not_an_address_or_network_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        # uvicorn would keep such a value as a literal that no peer ever matches.
        monkeypatch.setenv("GIGSY_HTTP__TRUSTED_PROXIES", value)
        with pytest.raises(ValidationError, match="not an IP address or a network"):
            Settings()
