"""The dense vector of a document: its text, with its title weighted apart.

A profile's headline ("Senior Accountant") or a gig's title says what the
person does or the gig wants more plainly than the rest of the text, and the
model reads only the first 256 word pieces of a long text. The stored vector is
therefore ``normalise(e(text) + TITLE_WEIGHT * e(title))``: one extra short
embedding per document, and every consumer of stored vectors (search, the
recommendations that use a stored vector as the query) sees the same vector.

Measured with all-MiniLM-L6-v2 (``benchmarks/README.md`` gives the commands):
similar profiles P@10 0.576 -> 0.647 and candidates' dense P@10 0.535 -> 0.588
(``python -m benchmarks recommend``); the 24 resume category names as semantic
queries P@10 0.862 -> 0.879 (``relevance resumes``); SciFact's dense nDCG@10
0.660 -> 0.651 with paper titles, its default hybrid unchanged (0.734; 0.738 since
BM25 weights titles too, :data:`indexers.bm25.BM25_TITLE_WEIGHT`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexers.encoders import DenseEncoder, FloatArray

__all__ = ["TITLE_WEIGHT", "dense_recipe", "embed_documents"]

TITLE_WEIGHT = 0.5
"""Weight of the title's embedding added to the text's before L2 normalisation.
Chosen on the resumes' same-category nearest neighbours, computed offline from
the two embeddings (P@10 0.637 at 0.3, 0.647 at 0.5, 0.649 at 0.7, 0.647 at 1.0);
the committed benchmarks above measure 0.5 only."""


def dense_recipe(encoder: DenseEncoder) -> str:
    """Name of how stored vectors are made: the model and the title weight. A stored
    vector is reused only when its recipe equals the current one, so changing either
    re-embeds on the next reindex."""
    return f"{encoder.name}|title={TITLE_WEIGHT}"


def embed_documents(
    encoder: DenseEncoder, texts: Sequence[str], titles: Sequence[str]
) -> FloatArray:
    """Dense vectors of documents: ``normalise(e(text) + TITLE_WEIGHT * e(title))``.

    Args:
        encoder: the dense model.
        texts: ``n`` document texts.
        titles: ``n`` titles (headline, gig title); an empty title adds nothing.

    Returns:
        ``(n, dim)`` float32, L2-normalised.

    Raises:
        ValueError: ``texts`` and ``titles`` differ in length.
        EncoderError: as the encoder raises it.
    """
    if len(texts) != len(titles):
        raise ValueError(f"{len(texts)} texts but {len(titles)} titles")
    have = [i for i, t in enumerate(titles) if t.strip()] if TITLE_WEIGHT else []
    # One encoder call for texts and titles: one model batch loop, one failure point.
    encoded = np.asarray(
        encoder.encode_documents([*texts, *(titles[i].strip() for i in have)]),
        dtype=np.float32,
    )
    vectors = encoded[: len(texts)].copy()
    if have:
        vectors[have] += TITLE_WEIGHT * encoded[len(texts) :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: FloatArray = (vectors / norms).astype(np.float32)
    return out
