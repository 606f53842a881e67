"""A refresh worker process for the kill -9 test (not a test module).

Usage: ``python -m tests.search_service.refresh.refresh_child DATA_DIR DB_URL MARKER``.
It refreshes in batches of 10; while embedding its second batch it creates
MARKER and hangs, waiting to be killed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from indexers import HashingEncoder
from search_service.entities import ENTITIES
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from search_service.settings import (
    EmbeddingSettings,
    FreshnessSettings,
    QdrantSettings,
    Settings,
)


class HangOnSecondBatch(HashingEncoder):
    """Encodes the first batch, then signals and hangs inside the second."""

    def __init__(self, marker: Path) -> None:
        super().__init__(64)
        self.marker = marker
        self.batches = 0

    def encode_documents(
        self, texts: Sequence[str], *, progress: bool = False
    ) -> NDArray[np.float32]:
        self.batches += 1
        if self.batches == 2:
            self.marker.write_text("embedding batch 2")
            time.sleep(600)
        return super().encode_documents(texts, progress=progress)


def main() -> None:
    """Run one refresh that will be killed mid-batch."""
    data_dir, db_url, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    settings = Settings(
        data_dir=Path(data_dir),
        database_url=db_url,
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
        freshness=FreshnessSettings(batch_size=10),
    )
    rt = Runtime.open(settings, entities=ENTITIES, encoder=HangOnSecondBatch(marker))
    refresh_stale(rt)


if __name__ == "__main__":
    main()
