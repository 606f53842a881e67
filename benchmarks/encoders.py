"""Encoder backends compared on the same real documents: docs/s, query p50/p95, agreement.

Every backend encodes the same sample of resumes (long texts, truncated at 256
word pieces, batches sorted by length) with the same intra-op thread count. The
rounds are interleaved (round 1 of every backend, then round 2, ...) so a change
in machine load hits every backend alike; the reported throughput is the median
round. Query latency is one ``encode_query`` per distinct real job title, LRU
cache disabled, interleaved the same way. Agreement is the cosine between each
backend's document vectors and ``torch``'s (the fp32 reference).
"""

from __future__ import annotations

import csv
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.metrics import percentile
from indexers import Backend, DenseEncoder, load_encoder

__all__ = ["BackendRun", "format_runs", "resume_texts", "run_encoders"]

_WARMUP_DOCS = 8


@dataclass(slots=True)
class BackendRun:
    """Measurements of one backend (seconds, docs/s, ms)."""

    backend: Backend
    name: str
    load_s: float
    round_docs_per_s: list[float] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)
    cosine_mean: float | None = None
    cosine_min: float | None = None
    ndcg: dict[str, float] = field(default_factory=dict)

    @property
    def docs_per_s(self) -> float:
        """Median throughput over the rounds."""
        return statistics.median(self.round_docs_per_s) if self.round_docs_per_s else 0.0


def resume_texts(csv_path: Path, n: int) -> list[str]:
    """The first ``n`` non-empty resume texts (column ``Resume_str``) of ``csv_path``.

    Raises:
        FileNotFoundError: no such CSV.
    """
    csv.field_size_limit(sys.maxsize)
    out: list[str] = []
    with csv_path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = " ".join(row.get("Resume_str", "").split())
            if text:
                out.append(text)
            if len(out) == n:
                break
    return out


def run_encoders(
    backends: Sequence[Backend],
    docs: Sequence[str],
    queries: Sequence[str],
    *,
    rounds: int = 3,
    threads: int = 2,
    batch_size: int = 32,
    model_cache_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[BackendRun]:
    """Load every backend, then time ``rounds`` interleaved passes over ``docs`` and
    ``queries``; agreement is measured against the ``torch`` backend when it is listed.

    Args:
        backends: backends to compare (``torch`` is the fp32 reference).
        docs: documents encoded once per round by every backend.
        queries: queries encoded once each (no cache) by every backend.
        rounds: interleaved passes over ``docs``.
        threads: intra-op threads of PyTorch and ONNX Runtime.
        batch_size: documents per forward pass.
        model_cache_dir: where ONNX exports are kept (``load_encoder``'s ``cache_dir``).
        on_step: progress messages.

    Raises:
        EncoderError: a backend cannot be loaded.
    """
    import torch

    torch.set_num_threads(threads)
    say = on_step or (lambda _m: None)
    encoders: dict[Backend, DenseEncoder] = {}
    runs: dict[Backend, BackendRun] = {}
    for backend in backends:
        say(f"loading {backend}")
        started = time.perf_counter()
        enc = load_encoder(
            None,
            batch_size=batch_size,
            query_cache_size=0,
            backend=backend,
            cache_dir=model_cache_dir,
            threads=threads,
        )
        enc.encode_documents(list(docs[:_WARMUP_DOCS]))
        encoders[backend] = enc
        runs[backend] = BackendRun(backend, enc.name, load_s=time.perf_counter() - started)
    vectors: dict[Backend, np.ndarray] = {}
    for r in range(rounds):
        for backend, enc in encoders.items():
            say(f"round {r + 1}/{rounds}: {backend}")
            started = time.perf_counter()
            vectors[backend] = enc.encode_documents(docs)
            runs[backend].round_docs_per_s.append(len(docs) / (time.perf_counter() - started))
    for q in queries:
        for backend, enc in encoders.items():
            started = time.perf_counter()
            enc.encode_query(q)
            runs[backend].query_ms.append((time.perf_counter() - started) * 1000)
    if "torch" in vectors:
        for backend, vecs in vectors.items():
            cos = np.sum(vecs * vectors["torch"], axis=1)
            runs[backend].cosine_mean = float(cos.mean())
            runs[backend].cosine_min = float(cos.min())
    return [runs[b] for b in backends]


def format_runs(runs: Sequence[BackendRun], *, docs: int, threads: int) -> str:
    """A table: backend, recipe name, docs/s (median round and the others), speed-up
    over ``torch``, query p50/p95 ms, cosine to torch, and any nDCG@10 columns."""
    base = next((r.docs_per_s for r in runs if r.backend == "torch"), None)
    labels = sorted({k for r in runs for k in r.ndcg})
    head = (
        f"{'backend':<10} {'docs/s':>7} {'x torch':>7} {'rounds':>18} {'q p50':>7} "
        f"{'q p95':>7} {'cos mean':>8} {'cos min':>8} {'load s':>6}"
    )
    head += "".join(f" {lab:>14}" for lab in labels)
    lines = [f"{docs} resumes, {threads} intra-op threads; query latency in ms", head]
    for r in runs:
        rounds = "/".join(f"{x:.1f}" for x in r.round_docs_per_s)
        speed = f"{r.docs_per_s / base:.2f}" if base else "-"
        cos_mean = f"{r.cosine_mean:.4f}" if r.cosine_mean is not None else "-"
        cos_min = f"{r.cosine_min:.4f}" if r.cosine_min is not None else "-"
        line = (
            f"{r.backend:<10} {r.docs_per_s:>7.1f} {speed:>7} {rounds:>18} "
            f"{percentile(r.query_ms, 50):>7.1f} {percentile(r.query_ms, 95):>7.1f} "
            f"{cos_mean:>8} {cos_min:>8} {r.load_s:>6.1f}"
        )
        line += "".join(
            f" {r.ndcg[lab]:>14.4f}" if lab in r.ndcg else f" {'-':>14}" for lab in labels
        )
        lines.append(line)
    return "\n".join(lines)
