"""The plain values the LangSmith client hands back and takes: projects, receipts, IDs, endpoints."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bot.langsmith.errors import UnexpectedResponse

__all__ = [
    "MAX_DELETE_IDS",
    "DeleteReceipt",
    "Endpoints",
    "Project",
    "distinct_uuids",
    "is_uuid",
    "normalize_uuid",
    "project_from",
]

MAX_DELETE_IDS = 1000  # documented per-request cap for runs/delete and the example hard delete


@dataclass(frozen=True)
class Project:
    """A LangSmith project (tracing session)."""

    id: str
    name: str


@dataclass(frozen=True)
class DeleteReceipt:
    """LangSmith's answer to a delete call, kept as evidence (a 202 means queued, not deleted)."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Endpoints:
    """Where each API family lives for a configured ``LANGSMITH_ENDPOINT`` (DESIGN "Endpoint paths").

    A root endpoint (cloud, EU, the sandbox) gives ``{endpoint}/api/v1``, ``{endpoint}/v1/platform``
    and ``{endpoint}/api/v2``; one ending in ``/api/v1`` (self-hosted) gives ``{endpoint}``,
    ``{endpoint}/platform`` and ``{root}/api/v2``, where root is the endpoint without ``/api/v1``.
    """

    v1: str
    platform: str
    v2: str

    @classmethod
    def of(cls, endpoint: str) -> Endpoints:
        base = endpoint.strip().rstrip("/")
        url = httpx.URL(base)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"LANGSMITH_ENDPOINT must be an http(s) URL, got {endpoint!r}")
        if base.endswith("/api/v1"):
            root = base.removesuffix("/api/v1")
            return cls(v1=base, platform=f"{base}/platform", v2=f"{root}/api/v2")
        return cls(v1=f"{base}/api/v1", platform=f"{base}/v1/platform", v2=f"{base}/api/v2")


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalize_uuid(value: str) -> str:
    """Lowercase hyphenated UUID; ValueError (naming the value) if it is not one.

    A value already in that form is returned as it is (a million stored IDs pass through here on
    their way to a delete call, and parsing each costs more than the call's other work)."""
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise ValueError(f"not a UUID: {value!r}") from None


def is_uuid(value: str) -> bool:
    try:
        normalize_uuid(value)
    except ValueError:
        return False
    return True


def distinct_uuids(values: Sequence[str]) -> list[str]:
    """The IDs normalised, first occurrence kept, in order; one string instead of a list is a TypeError."""
    if isinstance(values, str):
        raise TypeError("expected a sequence of ids, not one string")
    return list(dict.fromkeys(normalize_uuid(v) for v in values))


def project_from(item: Any) -> Project:
    """A project from a ``sessions`` answer item."""
    if not isinstance(item, dict) or "id" not in item:
        raise UnexpectedResponse("a session without an id")
    return Project(id=normalize_uuid(str(item["id"])), name=str(item.get("name") or ""))
