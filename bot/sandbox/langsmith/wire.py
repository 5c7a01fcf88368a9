"""Value formats on LangSmith's wire, kept in one place because every route module shares them.

UUIDs are accepted in any form FastAPI accepts and answered lower-case and hyphenated; times are
answered as naive UTC ISO strings, as LangSmith renders them; a request path is split into its
API family and route, in whichever layout the client used.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Literal

Family = Literal["v1", "v2", "platform", "sandbox"]

# Longest prefix first: ``/api/v1/platform/`` must win over ``/api/v1/``.
_PREFIXES: tuple[tuple[str, Family], ...] = (
    ("/api/v1/platform/", "platform"),
    ("/v1/platform/", "platform"),
    ("/api/v1/", "v1"),
    ("/api/v2/", "v2"),
    ("/_sandbox/", "sandbox"),
)


def split_path(path: str) -> tuple[Family, str]:
    """``(family, route)`` for a request path; a path under no known prefix is v1's bare form
    (``/runs/query``), which the Python SDK uses on cloud."""
    for prefix, family in _PREFIXES:
        if path.startswith(prefix):
            return family, path[len(prefix) :].rstrip("/")
    return "v1", path.lstrip("/").rstrip("/")


def norm_uuid(value: object) -> str | None:
    """Lowercase hyphenated form of a UUID given in any form FastAPI accepts, else None."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def iso(ts: float) -> str:
    """LangSmith renders times as naive UTC ISO strings."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def iso_dt(moment: datetime) -> str:
    return iso(moment.timestamp())


def aware(moment: datetime) -> datetime:
    """A naive time is UTC, as LangSmith reads it."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time as FastAPI parses it (v1): naive means UTC; None if unparsable."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return aware(moment)


_RFC3339 = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)


def parse_rfc3339(text: str) -> datetime | None:
    """An RFC 3339 date-time (v2): the ``T``, seconds and a UTC offset are required; None otherwise."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    fraction = f".{(m['fraction'] or '0')[:6]}"
    offset = "+00:00" if m["offset"] in ("Z", "z") else m["offset"]
    try:
        return datetime.fromisoformat(m["base"].replace("t", "T") + fraction + offset)
    except ValueError:  # a well-formed but impossible date, such as February 30th
        return None
