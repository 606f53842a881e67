"""Process logging, configured in one place: :func:`configure_logging`.

Two formats (``GIGSY_LOG__FORMAT``):

- ``text`` (default), for a person::

      2026-11-21T13:05:01.123Z INFO search_service.users.webhooks [3f2a...]: message

  (the ``[request id]`` only while a request is served; a traceback follows on
  the next lines).
- ``json``, for a log collector: one object per line with ``ts`` (ISO 8601,
  UTC), ``level``, ``logger``, ``message``, ``request_id`` (when set) and
  ``exc_info`` (the formatted traceback, when present).

Every line carries the request id of the request being served
(:mod:`search_service.request_id`), and anything shaped like an email address is
replaced by ``<email>``, a safety net behind the rule that log calls name ids,
never personal values (docs/privacy.md, "Logs").

``serve`` runs uvicorn with ``log_config=None``: its ``uvicorn.error`` and
``uvicorn.access`` loggers propagate to the root handler installed here, so the
access log has the same format and request id. APScheduler logs two INFO lines
per job run (the outbox poll runs every second), so its loggers are kept at
WARNING; the jobs log INFO themselves when they did work.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from search_service.request_id import current_request_id
from search_service.settings import LogSettings

__all__ = [
    "JsonFormatter",
    "QUIET_LOGGERS",
    "RequestIdFilter",
    "TextFormatter",
    "configure_logging",
    "redact",
]

QUIET_LOGGERS = ("apscheduler", "alembic", "httpx")
"""Loggers held at WARNING: routine per-run or per-call INFO lines."""

_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_OWN_HANDLER = "_gigsy_handler"


def redact(text: str) -> str:
    """``text`` with every email-shaped substring replaced by ``<email>``."""
    return _EMAIL.sub("<email>", text)


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a request is served (attach it to
    handlers: a logger's filters do not see records propagated from children)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Tag ``record``; never drops it."""
        request_id = current_request_id()
        if request_id is not None:
            record.request_id = request_id
        return True


class TextFormatter(logging.Formatter):
    """``<ts> <LEVEL> <logger> [<request id>]: <message>``, traceback below."""

    def format(self, record: logging.LogRecord) -> str:
        """One line (more with a traceback), redacted."""
        request_id = getattr(record, "request_id", None)
        tag = f" [{request_id}]" if request_id else ""
        line = f"{_timestamp(record)} {record.levelname} {record.name}{tag}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (newlines inside values are escaped by JSON).

    A fixed key set, on purpose: libraries pass ``extra`` fields (uvicorn's
    ``color_message``) that a collector does not need.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single-line JSON object, redacted."""
        out: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            out["request_id"] = request_id
        if record.exc_info:
            out["exc_info"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            out["stack_info"] = redact(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(
    settings: LogSettings, *, level: str | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Install the one root handler (replacing one installed before by this function;
    other handlers, such as pytest's, are left alone).

    Args:
        settings: ``GIGSY_LOG__LEVEL`` and ``GIGSY_LOG__FORMAT``.
        level: overrides ``settings.level`` (``serve --log-level``).
        stream: where lines go (default ``sys.stderr``).

    Returns:
        The handler installed.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OWN_HANDLER, False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _OWN_HANDLER, True)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel((level or settings.level).upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _UVICORN_LOGGERS:  # undo any earlier dictConfig: propagate to root
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    return handler
