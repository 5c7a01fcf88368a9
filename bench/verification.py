"""Verification cost: queries and wall time to check a large subject purge at LangSmith's query limits.

    python bench/verification.py [--traces 1000000] [--api v1 v2] [--projects 10] [--remain 3000] [--new 150]

Sets up a subject purge of ``--traces`` traces over ``--projects`` projects the way
``bench/throughput.py`` does (limits lifted and no latency: this bench measures the check), lets
LangSmith's weekend job run, and then checks it with ``purgebot verify PURGE-1`` — the real CLI, on
each query API in turn, its client limited to LangSmith's documented limit for that API (v1: 10
``runs/query`` calls per 10 s, 100 runs a page; v2: 300 per 10 s, 1,000 a page), against a stand-in
that refuses one more. Two checks per API:

1. **nothing remains**: every trace is gone;
2. **some remain**: ``--remain`` of the approved traces are back in one project (as if the weekend job
   had missed them) and ``--new`` traces of the subject appeared since the request in another.

For each: ``runs/query`` calls, 429s, the time from the first query to the last answer, and the
fastest the fixed window allows for that many queries (from a cold start the window lets its calls go
at once, then as many more each period), so their ratio is how much of the allowance the limiter
used. The naive check asks for the approved IDs a page at a time: ``traces / page`` queries.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scenario import SUBJECT, approve, file_and_preview, seed, server, state, wait_for, workspace

from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.process import ServeProcess
from storage import items
from storage.db import Store

LIMITS = {"v1": (10, 10.0), "v2": (300, 10.0)}  # LangSmith's documented run-query limits, per key
PAGE = {"v1": 100, "v2": 1000}


def fastest(queries: int, limit: tuple[int, float]) -> float:
    """Seconds a fixed window of ``limit`` needs for ``queries`` calls from a cold start."""
    return limit[1] * math.floor((queries - 1) / limit[0]) if queries else 0.0


def check(process: ServeProcess, langsmith: FakeLangSmith, api: str) -> dict[str, float]:
    """Run ``purgebot verify PURGE-1`` on ``api`` and read its queries from the stand-in's log."""
    before = len(langsmith.calls)
    limit = LIMITS[api]
    env = {
        **process.env,
        "PURGEBOT_LANGSMITH_QUERY_API": api,
        "PURGEBOT_LANGSMITH_QUERY_RATE": "{}/{:g}s".format(*LIMITS["v1"]),
        "PURGEBOT_LANGSMITH_V2_QUERY_RATE": "{}/{:g}s".format(*LIMITS["v2"]),
    }
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "purgebot"), "verify", "PURGE-1"], env=env, capture_output=True, text=True
    )
    elapsed = time.monotonic() - started
    if done.returncode not in (0, 2):
        raise RuntimeError(f"purgebot verify failed ({done.returncode}): {done.stdout}{done.stderr}")
    queries = [c for c in langsmith.calls[before:] if c.path.endswith("runs/query")]
    answered = [c for c in queries if c.status == 200]
    span = max(c.answered or c.at for c in queries) - min(c.at for c in queries) if queries else 0.0
    return {
        "queries": len(answered),
        "refused": sum(1 for c in queries if c.status == 429),
        "span": span,
        "fastest": fastest(len(answered), limit),
        "process": elapsed,
        "said": done.stdout.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--api", nargs="+", choices=["v1", "v2"], default=["v1", "v2"])
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--remain", type=int, default=3000, help="approved traces back in one project")
    parser.add_argument("--new", type=int, default=150, help="traces of the subject new since the request")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; {args.traces:,} traces, {args.projects} projects")
    with tempfile.TemporaryDirectory() as folder, workspace(Path(folder)) as world:
        langsmith = world.langsmith
        seed(langsmith, traces=args.traces, projects=args.projects, others_per_project=1000)
        process = server(
            world,
            Path(folder),
            PURGEBOT_LANGSMITH_QUERY_RATE="1000000/1s",
            PURGEBOT_LANGSMITH_V2_QUERY_RATE="1000000/1s",
        )
        with process:
            preview = file_and_preview(world, process, timeout=1800)
            approve(world, process, preview)
            wait_for("PURGE-1 is submitted", lambda: state(world.db_path) == "submitted", timeout=1800, poll=0.2)
        langsmith.run_weekend()
        langsmith.query_limit = LIMITS["v1"]
        langsmith.v2_query_limit = LIMITS["v2"]
        rows = []
        for api in args.api:
            time.sleep(10)  # Monday: earlier queries have left LangSmith's windows
            rows.append((f"{api}: nothing remains", api, check(process, langsmith, api)))

        store = Store(world.db_path)
        first = langsmith.project_id("prod-0")
        missed = [f.value for f in items.sent(store.db, 1) if f.container == first][: args.remain]
        store.close()
        for trace_id in missed:
            langsmith.add_trace(first, trace_id=trace_id, metadata={"user_id": SUBJECT})
        langsmith.add_traces(langsmith.project_id("prod-1"), args.new, metadata={"user_id": SUBJECT})
        for api in args.api:
            time.sleep(10)  # and so have the first checks'
            rows.append((f"{api}: {len(missed):,} remain, {args.new:,} new", api, check(process, langsmith, api)))

    print(
        f"{'check':<30}{'runs/query':>11}{'429s':>6}{'first query→last answer':>25}{'fastest':>9}"
        f"{'used':>7}{'process':>9}"
    )
    for name, _, row in rows:
        # within one burst the window is not what sets the pace, so there is no share of it to show
        used = f"{row['fastest'] / row['span']:.0%}" if row["fastest"] else "-"
        print(
            f"{name:<30}{row['queries']:>11,}{row['refused']:>6}{row['span']:>24.1f}s{row['fastest']:>8.1f}s"
            f"{used:>7}{row['process']:>8.1f}s"
        )
        print(f"{'':<30}  purgebot verify: {row['said']}")
    for api in args.api:
        naive = math.ceil(args.traces / PAGE[api])
        print(f"{api + ': naive (IDs a page a query)':<30}{naive:>11,}{'':>6}{fastest(naive, LIMITS[api]):>24,.0f}s")


if __name__ == "__main__":
    main()
