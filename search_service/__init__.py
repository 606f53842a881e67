"""Gigsy talent search service: settings, database, FastAPI app, services, CLI.

The names below are imported on first use (PEP 562 module ``__getattr__``): the
app pulls in FastAPI and every domain, which the command line's ``--help`` and
SQL-only commands do not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from search_service.app import create_app
    from search_service.runtime import Runtime
    from search_service.settings import Settings, get_settings

_LAZY = {
    "create_app": "search_service.app",
    "Runtime": "search_service.runtime",
    "Settings": "search_service.settings",
    "get_settings": "search_service.settings",
}

__all__ = ["Runtime", "Settings", "create_app", "get_settings"]


def __getattr__(name: str) -> Any:
    """Import the module defining ``name`` on first use and cache the value.

    Raises:
        AttributeError: ``name`` is not a public name of this package.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
