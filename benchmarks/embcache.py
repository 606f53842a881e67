"""A dense encoder that keeps its vectors on disk, keyed by model and text hash.

Embedding SciFact takes about 4 minutes on two cores and the resumes about 3; with
this cache a re-run (or a new fusion configuration) embeds nothing. The model is
loaded only on a cache miss.

Layout: ``<cache_dir>/<model>/<hash of its keys>.npz``, each file holding ``keys`` (the sha256
hex digests of ``"doc\\0" + text`` or ``"query\\0" + text``) and ``vectors``
(``(len(keys), dim)`` float32, L2-normalised, as the encoder returned them). Files
are only ever added, so concurrent runs at worst embed a text twice.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from indexers import Backend, DenseEncoder, load_encoder, recipe_name

__all__ = ["CachedEncoder", "default_cache_dir"]

FloatArray = npt.NDArray[np.float32]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""Cache name of ``model=None`` (the packaged all-MiniLM-L6-v2)."""
_QUERY_FLUSH = 256


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gigsy-bench/embeddings`` (default ``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gigsy-bench" / "embeddings"


def _key(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}\0{text}".encode()).hexdigest()


class CachedEncoder:
    """:class:`indexers.DenseEncoder` over ``load_encoder(model)`` with an on-disk cache.

    Args:
        model: as for :func:`indexers.load_encoder` (``None``: all-MiniLM-L6-v2,
            ``"hashing"``: the deterministic fake).
        cache_dir: root of the cache; the recipe's vectors live in a sub-directory
            named by :func:`indexers.recipe_name` (model and backend).
        backend: as for :func:`indexers.load_encoder`.
        query_backend: as for :func:`indexers.load_encoder` (``None``: ``backend``);
            a different one gets a cache directory of its own.
        model_cache_dir: where ONNX exports are kept (``load_encoder``'s ``cache_dir``).

    Attributes:
        hits, misses: texts answered from the cache / embedded by the model.
    """

    def __init__(
        self,
        model: str | None,
        cache_dir: Path,
        *,
        backend: Backend = "torch",
        query_backend: Backend | None = None,
        model_cache_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.backend: Backend = backend
        self.query_backend: Backend | None = None if query_backend == backend else query_backend
        self._model_cache_dir = model_cache_dir
        hashing = bool(model and model.startswith("hashing"))
        label = model if model and hashing else recipe_name(model or DEFAULT_MODEL, backend)
        if self.query_backend is not None and not hashing:
            label = f"{label}+queries-{self.query_backend}"
        self.dir = cache_dir / re.sub(r"[^A-Za-z0-9._-]+", "_", label)
        self._inner: DenseEncoder | None = None
        self._vectors: dict[str, FloatArray] = {}
        self._pending: dict[str, FloatArray] = {}
        self.hits = 0
        self.misses = 0
        if self.dir.is_dir():
            for path in sorted(self.dir.glob("*.npz")):
                with np.load(path) as data:
                    for key, vec in zip(data["keys"], data["vectors"], strict=True):
                        self._vectors[str(key)] = vec.astype(np.float32)

    @property
    def inner(self) -> DenseEncoder:
        """The real encoder, loaded on first use (raises ``EncoderError`` if it cannot be)."""
        if self._inner is None:
            self._inner = load_encoder(
                self.model,
                query_cache_size=0,
                backend=self.backend,
                query_backend=self.query_backend,
                cache_dir=self._model_cache_dir,
            )
        return self._inner

    @property
    def name(self) -> str:
        """The wrapped encoder's name (:func:`indexers.recipe_name`)."""
        if self.model and self.model.startswith("hashing"):
            return self.inner.name
        return recipe_name(self.model or DEFAULT_MODEL, self.backend)

    @property
    def dim(self) -> int:
        """Vector dimension (from a cached vector when there is one)."""
        for vec in self._vectors.values():
            return int(vec.shape[0])
        return self.inner.dim

    def _write(self, entries: dict[str, FloatArray]) -> None:
        if not entries:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        # Named by its keys: concurrent runs never overwrite each other's files.
        name = hashlib.sha256("".join(entries).encode()).hexdigest()[:24]
        tmp = self.dir / f".{name}.{os.getpid()}.npz"
        np.savez(tmp, keys=np.array(list(entries)), vectors=np.stack(list(entries.values())))
        tmp.replace(self.dir / f"{name}.npz")

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> FloatArray:
        """``(len(texts), dim)`` float32; only texts not cached are embedded (and stored)."""
        keys = [_key("doc", t) for t in texts]
        missing = list(dict.fromkeys(i for i, k in enumerate(keys) if k not in self._vectors))
        if missing:
            fresh = self.inner.encode_documents([texts[i] for i in missing], progress=progress)
            new = {keys[i]: fresh[j] for j, i in enumerate(missing)}
            self._vectors.update(new)
            self._write(new)
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def encode_query(self, text: str) -> FloatArray:
        """``(dim,)`` float32 (cached; new query vectors are written every 256 and on
        :meth:`flush`)."""
        key = _key("query", text)
        vec = self._vectors.get(key)
        if vec is None:
            self.misses += 1
            vec = self.inner.encode_query(text)
            self._vectors[key] = self._pending[key] = vec
            if len(self._pending) >= _QUERY_FLUSH:
                self.flush()
        else:
            self.hits += 1
        return vec

    def flush(self) -> None:
        """Write query vectors not yet on disk."""
        self._write(self._pending)
        self._pending = {}
