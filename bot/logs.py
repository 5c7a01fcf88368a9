"""Structured logs: one JSON object per line on stderr, with the ``extra`` fields a call passed.

Nothing secret is ever passed to a log call; slack_sdk and httpx, which can log request details
at DEBUG, are held at WARNING.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def level_named(name: str) -> int:
    """The logging level for ``PURGEBOT_LOG_LEVEL``'s value (``debug``, ``info``, ``warning``, ``error``)."""
    return logging.getLevelNamesMapping()[name.upper()]


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("slack_sdk", "slack_bolt", "httpx", "httpcore", "apscheduler", "uvicorn", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
