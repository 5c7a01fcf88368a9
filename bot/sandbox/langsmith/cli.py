"""``python -m bot.sandbox.langsmith``: serve a stand-in on its own, for the demo or another process."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bot.sandbox.langsmith.app import create_app
from bot.sandbox.langsmith.backend import BACKENDS
from bot.sandbox.langsmith.seeding import seed_demo
from bot.sandbox.langsmith.service import DEFAULT_API_KEY, FakeLangSmith


def _limit(text: str) -> tuple[int, float]:
    """``CALLS/SECONDS`` (e.g. ``10/10``) as a rate-limit window."""
    calls, _, seconds = text.partition("/")
    try:
        return int(calls), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CALLS/SECONDS such as 10/10, got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a stand-in until interrupted: ``python -m bot.sandbox.langsmith --port N``."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bot.sandbox.langsmith", description="Local LangSmith stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--require-tenant", default=None, help="make the key org-scoped: X-Tenant-Id required")
    parser.add_argument("--wrong-region", action="store_true", help="refuse every key with 403, as another region")
    parser.add_argument("--no-metadata-delete", action="store_true")
    parser.add_argument("--seed-demo", action="store_true")
    parser.add_argument("--query-limit", type=_limit, default=(10, 10.0), help="v1 runs/query calls per window: 10/10")
    parser.add_argument(
        "--v2-query-limit", type=_limit, default=(300, 10.0), help="v2 runs/query calls per window: 300/10"
    )
    parser.add_argument("--default-limit", type=_limit, default=(1000, 10.0), help="other calls per window: 1000/10")
    parser.add_argument("--backend", choices=BACKENDS, default="dual", help="query backend mode: dual")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    args = parser.parse_args(argv)
    state = FakeLangSmith(
        api_key=args.api_key,
        require_tenant=args.require_tenant,
        metadata_delete_enabled=not args.no_metadata_delete,
        query_limit=args.query_limit,
        v2_query_limit=args.v2_query_limit,
        default_limit=args.default_limit,
        latency=args.latency,
        backend=args.backend,
        wrong_region=args.wrong_region,
    )
    if args.seed_demo:
        seeded = seed_demo(state)
        print(f"seeded project support-bot ({seeded['project_id']})", flush=True)
    print(f"LangSmith stand-in on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")
