"""ONNX exports of a sentence-transformers model, built locally and cached on disk.

Nothing is downloaded: the export is traced from the local weights (the packaged
all-MiniLM-L6-v2 by default) with ``torch.onnx.export``, checked against the
PyTorch model on a few texts, and, for ``int8``, quantized with ONNX Runtime's
dynamic quantization (``onnxruntime.quantization.quantize_dynamic``, int8
weights per output channel, activations quantized at run time; ONNX Runtime docs,
"Quantize ONNX models"), every MatMul but the feed-forward down-projections.
The graph holds the whole sentence-transformers pipeline (transformer, pooling,
normalisation), so running it needs only the tokenizer and ONNX Runtime; building
it needs PyTorch, sentence-transformers and ONNX, the optional ``torch`` extra
(:data:`indexers.encoders.TORCH_EXTRA`), imported only then.

Cache layout: ``<cache_dir>/<model>-<variant>-<key>/`` with ``model.onnx``, the
tokenizer files and ``manifest.json`` (written last). ``key`` hashes the source
model's files, the variant and :data:`EXPORT_FORMAT`, so new weights or a new
export recipe get a new directory. An export is built in a temporary sibling
directory and renamed into place, so a crash never leaves a half-written export
under the final name; an export whose manifest is missing or whose ``model.onnx``
does not match the manifest's sha256 is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from indexers.encoders import file_sha256, torch_extra_error
from indexers.errors import EncoderError

__all__ = ["EXPORT_FORMAT", "Export", "Precision", "ensure_export", "read_export"]

log = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]

EXPORT_FORMAT = 2
"""Version of the export recipe (tracing, opset, quantization options); bump it to
rebuild every cached export."""

_OPSET = 17
_MANIFEST = "manifest.json"
_MODEL = "model.onnx"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts the export is checked on: padded batch of different lengths.
_PROBES = (
    "react developer with figma, weekends",
    "pastry chef",
    "Senior accountant with ten years of audit, tax and payroll experience in retail "
    "and hospitality; CPA; fluent in Spanish.",
)
# Minimum cosine between the export's and PyTorch's embeddings of the probes. fp32
# differs only by float rounding; int8 by quantization (measured ~0.99 on resumes).
_MIN_COSINE: dict[str, float] = {"fp32": 0.9999, "int8": 0.95}


@dataclass(frozen=True, slots=True)
class Export:
    """A verified export on disk.

    Attributes:
        path: its directory (``model.onnx``, tokenizer files, ``manifest.json``).
        dim: embedding dimension.
        max_seq_length: word pieces read per text (longer texts are truncated).
        inputs: names of the graph's integer inputs, in feed order.
        precision: ``fp32`` or ``int8``.
    """

    path: Path
    dim: int
    max_seq_length: int
    inputs: tuple[str, ...]
    precision: Precision

    @property
    def model_file(self) -> Path:
        """The ONNX graph."""
        return self.path / _MODEL


def _source_key(source: Path, precision: Precision) -> str:
    """sha256 over the export format, the precision and every file of ``source``."""
    digest = hashlib.sha256(f"format={EXPORT_FORMAT}\0precision={precision}\0".encode())
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = file.relative_to(source)
        if any(part.startswith(".") for part in rel.parts):
            continue
        digest.update(f"{rel.as_posix()}\0{file_sha256(file)}\0".encode())
    return digest.hexdigest()


def read_export(path: Path) -> Export | None:
    """The export in ``path`` if it is complete and intact, else ``None``.

    Intact means: ``manifest.json`` parses, has this :data:`EXPORT_FORMAT`, and the
    sha256 of ``model.onnx`` equals the manifest's.
    """
    try:
        manifest = json.loads((path / _MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != EXPORT_FORMAT:
            return None
        if file_sha256(path / _MODEL) != manifest["sha256"]:
            return None
        return Export(
            path=path,
            dim=int(manifest["dim"]),
            max_seq_length=int(manifest["max_seq_length"]),
            inputs=tuple(manifest["inputs"]),
            precision=manifest["precision"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"


def ensure_export(
    source: Path, cache_dir: Path, *, precision: Precision, name: str | None = None
) -> Export:
    """The cached export of ``source`` at ``precision``, building it if absent or damaged.

    Args:
        source: a local sentence-transformers model directory (transformer first).
        cache_dir: where exports live; created if missing.
        precision: ``fp32`` (plain export) or ``int8`` (dynamic quantization).
        name: readable prefix of the export's directory (default: ``source``'s name).

    Returns:
        The verified export.

    Raises:
        EncoderError: the model cannot be exported, the export disagrees with
            the PyTorch model on the probe texts, or building it needs the
            ``torch`` extra, which is not installed (a cached export does not).
    """
    key = _source_key(source, precision)
    final = cache_dir / f"{_slug(name or source.name)}-{precision}-{key[:16]}"
    found = read_export(final)
    if found is not None:
        return found
    # Tracing, quantizing and checking are slow and happen once per model and
    # precision, on first use: say so, or the caller just sees a silent wait.
    log.info(
        "building the %s ONNX export of %s into %s (once per model and precision)",
        precision,
        name or source.name,
        final,
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=cache_dir))
    try:
        _build(source, tmp, precision=precision, key=key)
        if final.exists():  # damaged or partial: move it aside, then drop it
            stale = Path(tempfile.mkdtemp(prefix=f".{final.name}.stale.", dir=cache_dir))
            final.replace(stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            tmp.rename(final)
        except OSError:  # another process renamed its own build first
            shutil.rmtree(tmp, ignore_errors=True)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, EncoderError):
            raise
        raise EncoderError(f"cannot export {source} to ONNX ({precision}): {exc}") from exc
    found = read_export(final)
    if found is None:
        raise EncoderError(f"ONNX export in {final} is unreadable after building it")
    return found


def _build(source: Path, dest: Path, *, precision: Precision, key: str) -> None:
    """Trace ``source`` into ``dest/model.onnx`` (quantized for ``int8``), save the
    tokenizer beside it, verify against PyTorch, then write the manifest.

    Raises:
        EncoderError: a package of the ``torch`` extra is not installed.
    """
    try:
        import onnx  # noqa: F401  (the int8 step reads the traced graph with it)
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise torch_extra_error("building an ONNX export", exc) from exc

    # Eager attention: the traced graph then has no mask shortcuts taken on the
    # example batch (the sdpa path branches on the mask's contents).
    model: Any = SentenceTransformer(
        str(source), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    model.eval()
    tokenizer = model.tokenizer
    inputs = tuple(n for n in _INPUTS if n in tokenizer.model_input_names)
    max_len = int(model.max_seq_length)

    class _Pipeline(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.inner(dict(zip(inputs, tensors, strict=True)))[
                "sentence_embedding"
            ]
            return out

    sample = tokenizer(list(_PROBES[:2]), padding=True, return_tensors="pt")
    traced = dest / ("model_fp32.onnx" if precision == "int8" else _MODEL)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns that it is deprecated and that tracing
        # fixes Python branches; the probe check below catches a wrong trace.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pipeline(model),
            tuple(sample[n] for n in inputs),
            str(traced),
            input_names=list(inputs),
            output_names=["sentence_embedding"],
            dynamic_axes={
                **{n: {0: "batch", 1: "sequence"} for n in inputs},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=_OPSET,
            dynamo=False,
        )
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            str(traced),
            str(dest / _MODEL),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=_down_projections(traced),
        )
        traced.unlink()
    tokenizer.save_pretrained(str(dest))
    reference = np.asarray(
        model.encode(list(_PROBES), convert_to_numpy=True, normalize_embeddings=True),
        dtype=np.float32,
    )
    export = Export(
        path=dest,
        dim=int(reference.shape[1]),
        max_seq_length=max_len,
        inputs=inputs,
        precision=precision,
    )
    _verify(export, list(_PROBES), reference)
    manifest = {
        "format": EXPORT_FORMAT,
        "source": str(source),
        "source_key": key,
        "precision": precision,
        "dim": export.dim,
        "max_seq_length": max_len,
        "inputs": list(inputs),
        "opset": _OPSET,
        "torch": torch.__version__,
        "sha256": file_sha256(dest / _MODEL),
    }
    (dest / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _down_projections(path: Path) -> list[str]:
    """Names of the MatMul nodes whose constant weight narrows its input (``(in, out)``
    with ``in > out``): in a BERT-style encoder, each layer's feed-forward output
    projection (1536 -> 384 in MiniLM).

    They stay fp32 in the int8 export: their input, the GELU output, has the
    widest activation range, and quantizing them cost the most agreement with
    fp32 (resumes, cosine to fp32: mean 0.9932 with every MatMul in int8, 0.9976
    with these six kept; SciFact figures in ``benchmarks/README.md``, "Encoders").
    """
    import onnx

    graph = onnx.load(str(path)).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    out: list[str] = []
    for node in graph.node:
        if node.op_type != "MatMul" or len(node.input) < 2:
            continue
        shape = shapes.get(node.input[1])
        if shape is not None and len(shape) == 2 and shape[0] > shape[1]:
            out.append(node.name)
    return out


def _verify(export: Export, texts: Sequence[str], reference: np.ndarray) -> None:
    from indexers.onnx_encoder import OnnxEncoder

    got = OnnxEncoder(export, name="probe", query_cache_size=0).encode_documents(texts)
    cosines = np.sum(got * reference, axis=1)
    floor = _MIN_COSINE[export.precision]
    if float(cosines.min()) < floor:
        raise EncoderError(
            f"ONNX export ({export.precision}) disagrees with PyTorch: cosine "
            f"{float(cosines.min()):.5f} < {floor}"
        )
