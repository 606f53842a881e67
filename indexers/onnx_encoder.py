"""A dense encoder that runs an ONNX export (:mod:`indexers.onnx_export`) on ONNX Runtime.

Tokenization is the model's own fast tokenizer with the same truncation as
sentence-transformers (``max_seq_length`` word pieces, whitespace stripped), and
documents are batched sorted by length, as ``SentenceTransformer.encode`` does, so
a batch carries little padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from indexers.encoders import FloatArray, QueryCache, normalise_rows
from indexers.errors import EncoderError
from indexers.onnx_export import Export

__all__ = ["OnnxEncoder"]


class OnnxEncoder:
    """:class:`indexers.DenseEncoder` over an ONNX export, on the CPU.

    Args:
        export: a verified export (:func:`indexers.onnx_export.ensure_export`).
        name: the recipe name recorded with stored vectors (it names the backend
            and precision, so vectors of different recipes are never mixed).
        batch_size: documents per forward pass.
        query_cache_size: LRU capacity for query embeddings (0 disables it).
        threads: ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose (one per
            physical core).

    Raises:
        EncoderError: ONNX Runtime or the tokenizer cannot be loaded.
    """

    def __init__(
        self,
        export: Export,
        *,
        name: str,
        batch_size: int = 32,
        query_cache_size: int = 1024,
        threads: int = 0,
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # No busy-waiting between runs: the threads would steal the cores that
            # the web server, the vector store and other encoders share.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session: Any = ort.InferenceSession(
                str(export.model_file), options, providers=["CPUExecutionProvider"]
            )
            tokenizer: Any = Tokenizer.from_file(str(export.path / "tokenizer.json"))
        except Exception as exc:
            raise EncoderError(f"cannot load ONNX model {export.path}: {exc}") from exc
        # Configured once, so concurrent encode_batch calls never reconfigure it.
        tokenizer.enable_truncation(max_length=export.max_seq_length)
        pad = tokenizer.padding
        tokenizer.enable_padding(
            pad_id=pad["pad_id"] if pad else 0, pad_token=pad["pad_token"] if pad else "[PAD]"
        )
        self._tokenizer = tokenizer
        self._export = export
        self._name = name
        self._batch_size = batch_size
        self.cache = QueryCache(query_cache_size)

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._export.dim

    @property
    def name(self) -> str:
        """Recipe name (model, backend and precision)."""
        return self._name

    def _forward(self, texts: Sequence[str]) -> FloatArray:
        encodings = self._tokenizer.encode_batch([t.strip() for t in texts])
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feeds = {n: np.asarray(columns[n], dtype=np.int64) for n in self._export.inputs}
        out: FloatArray = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        return out

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> FloatArray:
        """Encode documents to a ``(n, dim)`` float32, L2-normalised array.

        Texts longer than ``max_seq_length`` word pieces (256 for MiniLM) are truncated.

        Raises:
            EncoderError: ONNX Runtime failed.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # Longest first, as sentence-transformers orders its batches.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), self._batch_size)
        try:
            for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress):
                idx = order[start : start + self._batch_size]
                out[idx] = self._forward([texts[i] for i in idx])
        except Exception as exc:
            raise EncoderError(f"ONNX Runtime failed to encode: {exc}") from exc
        return normalise_rows(out)

    def encode_query(self, text: str) -> FloatArray:
        """Encode one query to a ``(dim,)`` float32, L2-normalised vector (LRU-cached)."""
        return self.cache.encode(text, self.encode_documents)
