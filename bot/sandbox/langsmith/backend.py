"""Which query backend the workspace runs on, and what each mode serves (reference §5).

LangSmith is moving runs from ClickHouse to SmithDB.  ``GET /api/v1/info`` tells a client which
it has (``instance_flags``); the SDK's rule reads them as CLICKHOUSE_ONLY, DUAL or SMITHDB_ONLY:

* ``clickhouse``: v1 only; the v2 API does not exist (older self-hosted): 404 on ``/api/v2/``;
* ``dual``: both;
* ``smithdb``: the v1 query and read endpoints are gone: 410 pointing at v2.  Deletes, sessions,
  datasets, examples and platform routes are not affected.

Kept in one place because the migration page says details may change.
"""

from __future__ import annotations

from typing import Literal

from bot.sandbox.langsmith.answers import Answer, error_body
from bot.sandbox.langsmith.wire import Family

Backend = Literal["clickhouse", "dual", "smithdb"]
BACKENDS: tuple[Backend, ...] = ("clickhouse", "dual", "smithdb")

# v1 routes a SmithDB-only deployment no longer serves (reference §1: search, preview, verification).
V1_REMOVED = frozenset({"runs/query"})
GONE = "This endpoint was removed: {route} is not served on SmithDB. Use POST /api/v2/runs/query instead."


def parse_backend(value: object) -> Backend:
    """``value`` as a backend mode; ValueError naming the modes otherwise."""
    if value not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {value!r}")
    return value


def instance_flags(mode: Backend) -> dict[str, bool]:
    """``GET info``'s ``instance_flags`` for ``mode``, as the SDK's ``get_query_backend`` reads them."""
    return {"ch_query_enabled": mode != "smithdb", "sdb_query_enabled": mode != "clickhouse"}


def require_api(mode: Backend, family: Family) -> None:
    """404 for an API family this mode does not have at all (checked before auth, as for any
    unknown route)."""
    if family == "v2" and mode == "clickhouse":
        raise Answer(404, error_body("v2", 404, "Not Found: this deployment has no v2 API"))


def require_route(mode: Backend, family: Family, route: str) -> None:
    """410 for a v1 route a SmithDB-only deployment removed (checked after auth)."""
    if mode == "smithdb" and family == "v1" and route in V1_REMOVED:
        raise Answer(410, error_body("v1", 410, GONE.format(route=f"/api/v1/{route}")))
