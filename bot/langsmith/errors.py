"""Every error the LangSmith client raises on purpose, small and named (httpx style).

::

    LangSmithError                     anything this client raises on purpose
    ├── LangSmithRejected              a non-retryable answer (4xx other than 408/429): .status, .message
    │   ├── MetadataDeleteRefused      the optional workspace-wide delete by metadata was refused
    │   └── QueryApiGone               a run-query API answered 404/410: this deployment no longer has it
    ├── ProjectNotFound                no project with that name or id: .project
    ├── ProjectNotVisible              a project a check must look at is gone or hidden from the key
    ├── UnexpectedResponse             a 2xx whose body is not what the API documents
    └── LangSmithUnavailable           retries exhausted on 429/408/5xx/transport:
                                       .status, .reason, .retry_after

The API key never appears in an exception's text or repr: messages are built from status codes and
LangSmith's own words, scrubbed of the key by the transport.
"""

from __future__ import annotations

__all__ = [
    "LangSmithError",
    "LangSmithRejected",
    "LangSmithUnavailable",
    "MetadataDeleteRefused",
    "ProjectNotFound",
    "ProjectNotVisible",
    "QueryApiGone",
    "UnexpectedResponse",
]


class LangSmithError(Exception):
    """Base class of every error this client raises on purpose."""


class LangSmithRejected(LangSmithError):
    """LangSmith refused the call with an answer that retrying will not change."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f" {method} {path}" if method else ""
        super().__init__(f"LangSmith answered {status}{where}: {message}")


class MetadataDeleteRefused(LangSmithRejected):
    """LangSmith refused the optional workspace-wide delete by metadata (403 "not enabled", or any
    other refusal): the purge goes on by trace IDs, and the refusal is noted in the thread."""


class QueryApiGone(LangSmithRejected):
    """A run-query API answered that it does not exist here (v1: 404/410 after SmithDB's migration;
    v2: 404 on deployments without it).  Never "nothing found": the caller switches API or fails."""


class ProjectNotFound(LangSmithError):
    """No project (tracing session) with that name or id is visible to this key."""

    def __init__(self, project: str) -> None:
        self.project = project
        super().__init__(f"LangSmith project not found: {project!r}")


class ProjectNotVisible(LangSmithError):
    """A project that holds part of an approved set is gone or hidden from the key.

    A query of an invisible project answers "nothing", which is not proof of deletion, so a check
    that meets one says "cannot verify" instead of certifying.
    """

    def __init__(self, project: str) -> None:
        self.project = project
        super().__init__(
            f"cannot verify: project {project} is no longer visible to the API key, so its absence proves nothing"
        )


class UnexpectedResponse(LangSmithError):
    """A successful answer whose body does not have the documented shape."""


class LangSmithUnavailable(LangSmithError):
    """Retries ran out on a retryable answer (429, 408, 5xx) or a transport failure."""

    def __init__(
        self,
        *,
        status: int | None,
        reason: str,
        retry_after: float | None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        self.method = method
        self.path = path
        what = f"status {status}" if status is not None else reason
        hint = f"; retry after {retry_after:g}s" if retry_after is not None else ""
        detail = f" ({reason})" if status is not None and reason else ""
        super().__init__(f"LangSmith unavailable for {method} {path}: {what}{detail}{hint}")
