"""A refresh worker that dies between its upsert and its verification (not a test module).

Usage: ``python -m tests.search_service.refresh.late_write_child DATA_DIR DB_URL MARKER CLERK_ID``.
While it embeds the batch, the account ``CLERK_ID`` is deleted (its removal runs at
once and finds no point yet); the worker then upserts the point it had built,
creates MARKER and hangs before verifying, waiting to be killed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlmodel import select

from indexers import HashingEncoder
from models import User
from search_service.entities import ENTITIES
from search_service.privacy.service import delete_account
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from search_service.settings import EmbeddingSettings, QdrantSettings, Settings


class DeleteWhileEmbedding(HashingEncoder):
    """Deletes an account while the batch that holds it is being embedded."""

    def __init__(self, rt_box: list[Runtime], clerk_id: str) -> None:
        super().__init__(64)
        self.rt_box, self.clerk_id = rt_box, clerk_id

    def encode_documents(
        self, texts: Sequence[str], *, progress: bool = False
    ) -> NDArray[np.float32]:
        rt = self.rt_box[0]
        with rt.session() as session:
            user = session.exec(select(User).where(User.clerk_id == self.clerk_id)).one()
            delete_account(session, user)
        return super().encode_documents(texts, progress=progress)


def main() -> None:
    """Run one refresh that is killed after its upsert, before its verification."""
    data_dir, db_url, marker, clerk_id = sys.argv[1:5]
    settings = Settings(
        data_dir=Path(data_dir),
        database_url=db_url,
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
    )
    box: list[Runtime] = []
    rt = Runtime.open(settings, entities=ENTITIES, encoder=DeleteWhileEmbedding(box, clerk_id))
    box.append(rt)

    def hang(_ids: list[int]) -> None:
        Path(marker).write_text("upserted, not verified")
        time.sleep(600)

    rt.on_index_written = hang
    refresh_stale(rt)


if __name__ == "__main__":
    main()
