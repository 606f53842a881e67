"""The stored dense vector: the text's embedding with the title's added at TITLE_WEIGHT."""

from __future__ import annotations

import numpy as np
import pytest

from indexers import (
    TITLE_WEIGHT,
    HashingEncoder,
    build_document,
    build_gig_document,
    dense_recipe,
    embed_documents,
)
from models import Gig
from tests.indexers.factories import DIM, make_rows


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_vectors_are_l2_normalised_float32() -> None:
    out = embed_documents(HashingEncoder(DIM), ["a b c", "d e"], ["a", ""])
    assert out.shape == (2, DIM) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_an_empty_title_leaves_the_text_vector() -> None:
    enc = HashingEncoder(DIM)
    out = embed_documents(enc, ["python backend developer"], ["  "])
    np.testing.assert_allclose(out[0], enc.encode_documents(["python backend developer"])[0])


def test_the_title_pulls_the_vector_towards_it() -> None:
    enc = HashingEncoder(DIM)
    text = "chef kitchen menu catering python"
    title = enc.encode_documents(["python developer"])[0]
    plain = embed_documents(enc, [text], [""])[0]
    titled = embed_documents(enc, [text], ["python developer"])[0]
    assert _cos(titled, title) > _cos(plain, title)
    expected = enc.encode_documents([text])[0] + TITLE_WEIGHT * title
    np.testing.assert_allclose(titled, expected / np.linalg.norm(expected), rtol=1e-5)


def test_texts_and_titles_must_pair_up() -> None:
    with pytest.raises(ValueError, match="2 texts but 1 titles"):
        embed_documents(HashingEncoder(DIM), ["a", "b"], ["a"])


def test_the_recipe_names_model_and_title_weight() -> None:
    assert dense_recipe(HashingEncoder(DIM)) == f"hashing-{DIM}|title={TITLE_WEIGHT}"


def test_profile_and_gig_documents_carry_their_title() -> None:
    doc = build_document(make_rows(user_id=7, headline="  Line cook  "))
    assert doc.title == "Line cook"
    assert doc.text.startswith("Line cook")
    gig = build_gig_document(Gig(id=3, owner_id=1, title=" Barista "))
    assert gig.title == "Barista"
