"""LangSmith, as purgebot speaks to it: one package, one module per job.

- ``client``: :class:`LangSmithClient`, one workspace's projects, deletes, examples and run lookups;
- ``runs_v2`` / ``runs_v1``: run queries on v2 (SmithDB, ``/api/v2/runs/query``) and v1 (removed
  from cloud on 31 Jan 2027), on the route ``runs_route`` gives them;
- ``query_api``: which of the two serves a workspace, and switching when one answers 404/410;
- ``window``: the start-time window every query states (v2 looks at the last 24 hours otherwise);
- ``transport``: one call, paced, retried, its errors mapped; ``ratelimit``: the limiters;
- ``errors``, ``values``, ``filters``, ``pages``: named errors, plain values, the filter language,
  pagination.
"""

from bot.langsmith.client import LangSmithClient
from bot.langsmith.errors import (
    LangSmithError,
    LangSmithRejected,
    LangSmithUnavailable,
    MetadataDeleteRefused,
    ProjectNotFound,
    ProjectNotVisible,
    QueryApiGone,
    UnexpectedResponse,
)
from bot.langsmith.filters import Pairs, metadata_filter, quote_filter_value
from bot.langsmith.query_api import Backend, QueryApi, RunLookup, backend_of
from bot.langsmith.transport import RetryPolicy, WaitNotice, is_retryable
from bot.langsmith.values import MAX_DELETE_IDS, DeleteReceipt, Endpoints, Project, normalize_uuid
from bot.langsmith.window import FoundRun, Window, window_for

__all__ = [
    "MAX_DELETE_IDS",
    "Backend",
    "DeleteReceipt",
    "Endpoints",
    "FoundRun",
    "LangSmithClient",
    "LangSmithError",
    "LangSmithRejected",
    "LangSmithUnavailable",
    "MetadataDeleteRefused",
    "Pairs",
    "Project",
    "ProjectNotFound",
    "ProjectNotVisible",
    "QueryApi",
    "QueryApiGone",
    "RetryPolicy",
    "RunLookup",
    "UnexpectedResponse",
    "WaitNotice",
    "Window",
    "backend_of",
    "is_retryable",
    "metadata_filter",
    "normalize_uuid",
    "quote_filter_value",
    "window_for",
]
