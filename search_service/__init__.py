"""Gigsy talent search service: settings, database, FastAPI app, services, CLI."""

from search_service.app import create_app
from search_service.runtime import Runtime
from search_service.settings import Settings, get_settings

__all__ = ["Runtime", "Settings", "create_app", "get_settings"]
