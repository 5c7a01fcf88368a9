"""A local stand-in for the LangSmith REST API, as far as a purge bot uses it.

It follows ``reference/langsmith-api.md`` (the wire truth for this project): status codes, body
shapes, limits, weekend processing of deletes and rate limits, plus injectable faults.  The demo
and every test run against it over real loopback HTTP, so it is product code, not a mock.  Where
the reference is silent or marked INFERRED the stand-in picks the stricter reading, and the
handler concerned says so.

Where things are:

==============  ====================================================================================
``service``     :class:`FakeLangSmith`: auth, rate limits, and ``ROUTES``, the table of every route
``state``       the workspace's data: projects, runs, examples, seeding, hidden projects
``weekend``     which traces the weekend job's queued deletes take
``sessions``    ``GET sessions``, ``GET sessions/{id}``
``runs_v1``     ``POST runs/delete``, v1 ``POST runs/query``
``runs_v2``     v2 ``POST /api/v2/runs/query``: how the stand-in answers v2 queries
``backend``     backend modes (``clickhouse``, ``dual``, ``smithdb``): ``GET info``'s flags, 404/410
``search``      the run search both query APIs share (matching, order, cursor pages)
``filters``     the run filter language: :func:`parse_filter`, :func:`compile_filter`
``examples``    datasets, examples, the platform hard delete
``answers``     error shapes per API family, request-body validation
``limits``      rate-limit windows
``faults``      :class:`Fault` and the injected faults
``calls``       :class:`Call`, the record of every call
``app``         the ASGI app (:func:`create_app`)
``controls``    ``/_sandbox/...`` test controls
``seeding``     :func:`seed_demo`, and ``POST /_sandbox/seed``
``cli``         ``python -m bot.sandbox.langsmith --port N [--seed-demo] [--backend MODE] ...``
==============  ====================================================================================

Paths (recorded exactly as called): v1 under ``/api/v1/<route>`` and the bare ``/<route>`` the
Python SDK uses on cloud; v2 under ``/api/v2/<route>`` (the SDKs' form); platform under
``/v1/platform/<route>`` (cloud) and ``/api/v1/platform/<route>`` (self-hosted); controls under
``/_sandbox/``.
"""

from bot.sandbox.langsmith.app import PROXY_HEADER, RESET_HEADER, create_app
from bot.sandbox.langsmith.backend import BACKENDS, Backend
from bot.sandbox.langsmith.calls import Call
from bot.sandbox.langsmith.cli import main
from bot.sandbox.langsmith.faults import Fault
from bot.sandbox.langsmith.filters import FilterError, compile_filter, parse_filter
from bot.sandbox.langsmith.runs_v1 import MAX_DELETE_TRACE_IDS, METADATA_DELETE_DISABLED
from bot.sandbox.langsmith.seeding import seed_demo
from bot.sandbox.langsmith.service import DEFAULT_API_KEY, DEFAULT_TENANT_ID, FakeLangSmith

__all__ = [
    "BACKENDS",
    "DEFAULT_API_KEY",
    "DEFAULT_TENANT_ID",
    "MAX_DELETE_TRACE_IDS",
    "METADATA_DELETE_DISABLED",
    "PROXY_HEADER",
    "RESET_HEADER",
    "Backend",
    "Call",
    "FakeLangSmith",
    "Fault",
    "FilterError",
    "compile_filter",
    "create_app",
    "main",
    "parse_filter",
    "seed_demo",
]
