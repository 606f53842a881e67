"""SQL for ``index_state`` facts (e.g. the BM25 average document length)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from models import IndexState, now_ms

__all__ = ["get_state", "set_state"]


def get_state(session: Session, key: str) -> dict[str, Any] | None:
    """The stored value of ``key`` or ``None``."""
    row = session.get(IndexState, key)
    return dict(row.value) if row is not None else None


def set_state(session: Session, key: str, value: dict[str, Any]) -> None:
    """Insert or replace ``key``."""
    row = session.get(IndexState, key)
    if row is None:
        session.add(IndexState(key=key, value=value))
    else:
        row.value = value
        row.updated_at = now_ms()
    session.flush()
