"""The LangSmith client the bot uses for one workspace: projects, deletes, examples and run queries.

Plain httpx rather than the ``langsmith`` SDK: the SDK has no trace-delete call and its retry
behaviour differs per method.  Each API family has its own module; this class wires them to one
:class:`~bot.langsmith.transport.Transport` (one key, its limits and retries):

- run queries: :meth:`LangSmithClient.lookup` (v1 ``runs_v1`` or v2 ``runs_v2``, as ``query_api`` chooses);
- projects (``GET sessions``), deletes (``runs/delete``, the platform's example hard delete) and
  dataset examples (``GET examples``, ``datasets``): here, since v1 keeps them after SmithDB.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx

from bot.langsmith.errors import (
    LangSmithRejected,
    MetadataDeleteRefused,
    ProjectNotFound,
    UnexpectedResponse,
)
from bot.langsmith.pages import offset_pages
from bot.langsmith.query_api import QueryApi, QueryApiChoice, RunLookup
from bot.langsmith.ratelimit import KeyLimiters
from bot.langsmith.runs_v1 import RunsV1
from bot.langsmith.runs_v2 import RunsV2
from bot.langsmith.transport import RetryPolicy, Transport, WaitHook
from bot.langsmith.values import (
    MAX_DELETE_IDS,
    DeleteReceipt,
    Endpoints,
    Project,
    distinct_uuids,
    is_uuid,
    normalize_uuid,
    project_from,
)
from bot.langsmith.window import rfc3339

__all__ = ["LangSmithClient"]


class LangSmithClient:
    """Synchronous, thread-safe LangSmith client of one workspace (one key, one region)."""

    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str,
        workspace_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        query_api: str = "auto",
        v1_query_rate: tuple[int, float] = (10, 10.0),
        v2_query_rate: tuple[int, float] = (300, 10.0),
        call_rate: tuple[int, float] = (1000, 10.0),
        retry: RetryPolicy | None = None,
        on_wait: WaitHook | None = None,
        workspace: str = "default",
        limiters: KeyLimiters | None = None,
    ) -> None:
        """``limiters`` are the key's, when other workspaces share the key; by default this client's own."""
        self.endpoint = endpoint.strip().rstrip("/")
        self.endpoints = Endpoints.of(endpoint)
        self.workspace = workspace
        self.workspace_id = normalize_uuid(workspace_id) if workspace_id else None
        limiters = limiters or KeyLimiters.of(v1_query_rate, v2_query_rate, call_rate)
        self.v1_query_limiter = limiters.v1_query
        self.v2_query_limiter = limiters.v2_query
        self.call_limiter = limiters.call
        self.transport = Transport(
            api_key=api_key,
            workspace_id=self.workspace_id,
            transport=transport,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            call_limiter=self.call_limiter,
            on_wait=on_wait,
        )
        self.runs_v1 = RunsV1(self.transport, self.endpoints.v1, self.v1_query_limiter)
        self.runs_v2 = RunsV2(self.transport, self.endpoints.v2, self.v2_query_limiter)
        self.query_choice = QueryApiChoice(query_api, self.info, workspace=workspace)

    def __repr__(self) -> str:
        return f"LangSmithClient(endpoint={self.endpoint!r}, workspace_id={self.workspace_id!r})"

    @property
    def retry(self) -> RetryPolicy:
        return self.transport.retry

    reporting_waits = staticmethod(Transport.reporting_waits)

    def stop_waiting(self) -> None:
        """Make callers waiting for a rate-limit slot give up now (the process is stopping); calls
        already on the wire finish normally."""
        for limiter in (self.v1_query_limiter, self.v2_query_limiter, self.call_limiter):
            limiter.close()

    def close(self) -> None:
        """Close the connection pool; nobody waits for a slot any more."""
        self.stop_waiting()
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- which API answers run queries -----------------------------------------------------

    def info(self) -> Any:
        """``GET /api/v1/info``: the deployment's version and ``instance_flags``."""
        return self.transport.get_json(f"{self.endpoints.v1}/info")

    def query_api(self) -> QueryApi:
        """The API run queries go to now (reads ``/info`` in ``auto`` when due)."""
        return self.query_choice.current()

    def lookup(self) -> RunLookup:
        """A fresh set of run queries that notes which API answered them."""
        return RunLookup(self.query_choice, {QueryApi.V1: self.runs_v1, QueryApi.V2: self.runs_v2})

    # ---- projects --------------------------------------------------------------------------

    def resolve_project(self, name_or_id: str) -> Project:
        """The project called ``name_or_id``, or with that session UUID; ProjectNotFound otherwise.

        A UUID is looked up by id first (and, should a project be *named* like a UUID, by name
        next).  A name must match exactly: the bot must never purge a look-alike project.
        """
        wanted = name_or_id.strip()
        if not wanted:
            raise ProjectNotFound(name_or_id)
        if is_uuid(wanted):
            found = self.project(wanted)
            if found is not None:
                return found
        listed = self.transport.get_json(self._v1("sessions"), params={"name": wanted, "limit": 1})
        if not isinstance(listed, list):
            raise UnexpectedResponse("GET sessions did not return a list")
        if not listed:
            raise ProjectNotFound(wanted)
        project = project_from(listed[0])
        if project.name != wanted:
            raise ProjectNotFound(wanted)
        return project

    def project(self, project_id: str) -> Project | None:
        """The project with this id if the key can see it, else None (``GET sessions/{id}`` 404/422)."""
        try:
            body = self.transport.get_json(self._v1(f"sessions/{normalize_uuid(project_id)}"))
        except LangSmithRejected as exc:
            if exc.status in (404, 422):
                return None
            raise
        return project_from(body)

    def list_projects(self) -> Iterator[Project]:
        """Every project of the workspace, paged by offset 100 at a time."""
        for item in offset_pages(self._get(self._v1("sessions")), {}, what="sessions"):
            yield project_from(item)

    # ---- deletes ---------------------------------------------------------------------------

    def delete_traces(self, session_id: str, trace_ids: Sequence[str]) -> DeleteReceipt:
        """Queue the delete of up to 1000 traces of one project (``POST runs/delete``).

        The ids are validated and normalised before anything is sent; more than 1000 distinct
        ids is a ValueError because the batching belongs to the caller, who records each batch.
        """
        sid = normalize_uuid(session_id)
        ids = distinct_uuids(trace_ids)
        if not ids:
            raise ValueError("no trace ids to delete")
        if len(ids) > MAX_DELETE_IDS:
            raise ValueError(f"at most {MAX_DELETE_IDS} trace ids per delete call, got {len(ids)}")
        return self._receipt(self._v1("runs/delete"), {"session_id": sid, "trace_ids": ids})

    def delete_by_metadata(self, pairs: Mapping[str, str], *, start_time: datetime) -> DeleteReceipt:
        """Queue LangSmith's workspace-wide, OR-matched delete by metadata of traces from ``start_time`` on.

        The newest published spec asks for ``start_time`` with ``metadata`` (the docs page shows
        ``metadata`` alone), so it is always sent.  Any refusal raises :class:`MetadataDeleteRefused`:
        this delete is optional (the deletes by trace ID carry the purge), so the caller notes it and
        carries on.
        """
        if not pairs:
            raise ValueError("at least one metadata pair is required")
        for key, value in pairs.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError("metadata keys and values must be strings")
        if start_time.tzinfo is None:
            raise ValueError("start_time must be time-zone aware")
        body = {"metadata": dict(pairs), "start_time": rfc3339(start_time.astimezone(UTC))}
        try:
            return self._receipt(self._v1("runs/delete"), body)
        except LangSmithRejected as exc:
            raise MetadataDeleteRefused(exc.status, exc.message, method=exc.method, path=exc.path) from None

    def hard_delete_examples(self, example_ids: Sequence[str]) -> DeleteReceipt:
        """Hard-delete up to 1000 dataset examples in all versions (platform endpoint).

        The body's ``count`` says how many of the ids existed; inputs, outputs and metadata read
        back as null immediately, so the caller can verify at once.
        """
        ids = distinct_uuids(example_ids)
        if not ids:
            raise ValueError("no example ids to delete")
        if len(ids) > MAX_DELETE_IDS:
            raise ValueError(f"at most {MAX_DELETE_IDS} example ids per delete call, got {len(ids)}")
        return self._receipt(
            f"{self.endpoints.platform}/datasets/examples/delete", {"example_ids": ids, "hard_delete": True}
        )

    # ---- dataset examples ------------------------------------------------------------------

    def list_examples(
        self,
        *,
        metadata: Mapping[str, str] | None = None,
        as_of: datetime | str | None = None,
        dataset_id: str | None = None,
        example_ids: Sequence[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Examples matching every given criterion at ``as_of`` (default latest), offset-paged.

        ``metadata`` is sent as LangSmith expects (a JSON string) and matched by containment;
        callers wanting OR across pairs query one pair at a time and union the ids.
        """
        params: dict[str, Any] = {}
        if metadata:
            params["metadata"] = json.dumps(dict(metadata), separators=(",", ":"))
        if isinstance(as_of, datetime):
            params["as_of"] = (as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)).isoformat()
        elif as_of is not None:
            params["as_of"] = as_of
        if dataset_id:
            params["dataset"] = normalize_uuid(dataset_id)
        if example_ids is not None:
            ids = distinct_uuids(example_ids)
            if not ids:
                return
            params["id"] = ids
        yield from offset_pages(self._get(self._v1("examples")), params, what="examples")

    def list_datasets(self) -> Iterator[dict[str, Any]]:
        """Every dataset of the workspace (``GET datasets``, offset-paged)."""
        return offset_pages(self._get(self._v1("datasets")), {}, what="datasets")

    def dataset_versions(self, dataset_id: str) -> Iterator[datetime]:
        """The moments a dataset changed (``GET datasets/{id}/versions``), newest first.

        An example removed from the latest version still holds its data in earlier ones; a
        purge searches each of these moments so it finds such copies too.
        """
        url = self._v1(f"datasets/{normalize_uuid(dataset_id)}/versions")
        for version in offset_pages(self._get(url), {}, what="versions"):
            moment = version.get("as_of") if isinstance(version, dict) else None
            if isinstance(moment, str):
                parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
                yield parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    # ---- plumbing --------------------------------------------------------------------------

    def _v1(self, route: str) -> str:
        return f"{self.endpoints.v1}/{route}"

    def _get(self, url: str) -> Callable[[dict[str, Any]], Any]:
        return lambda params: self.transport.get_json(url, params=params)

    def _receipt(self, url: str, body: dict[str, Any]) -> DeleteReceipt:
        status, answer = self.transport.send("POST", url, json_body=body)
        return DeleteReceipt(status=status, body=answer if isinstance(answer, dict) else {"body": answer})
