"""The app's start-up warm-up: every encoder it serves with runs once, then the
garbage collector's view of the start-up objects is frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from indexers import HashingEncoder, SplitEncoder
from search_service.app import _warm_up


class _Counting(HashingEncoder):
    def __init__(self) -> None:
        super().__init__(8)
        self.texts: list[str] = []

    def encode_documents(
        self, texts: Sequence[str], *, progress: bool = False
    ) -> NDArray[np.float32]:
        self.texts += list(texts)
        return super().encode_documents(texts, progress=progress)


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_warm_up_runs_both_sides_of_a_split_encoder(unfrozen: None) -> None:
    docs, queries = _Counting(), _Counting()
    rt: Any = SimpleNamespace(encoder=SplitEncoder(docs, queries))
    _warm_up(rt)
    assert docs.texts and queries.texts == docs.texts


def test_warm_up_freezes_what_start_up_allocated(unfrozen: None) -> None:
    assert gc.get_freeze_count() == 0
    rt: Any = SimpleNamespace(encoder=_Counting())
    _warm_up(rt)
    assert gc.get_freeze_count() > 0
