"""Purge throughput: from Bob's approval to LangSmith accepting the last delete, against the floor.

    python bench/throughput.py [--traces 100000 1000000] [--projects 10] [--latency 0.02] [--concurrency 4]

For each size, a fresh workspace: ``--traces`` traces of one subject spread over ``--projects``
projects (plus 1,000 unrelated traces in each), a real ``purgebot serve`` on a fresh SQLite file,
``/purge metadata user_id=…`` filed and previewed (LangSmith's limits lifted for the search, which
``bench/resolution.py`` measures), then — with the LangSmith stand-in at ``--latency`` seconds per
call and its documented limit of 1,000 calls per 10 s — Bob approves and the clock runs until the
stand-in answers the last delete call. The floor is what the limit and the latency allow:
``max(calls / 100 per s, latency x calls / concurrency)``. The server's peak RSS (VmHWM) covers its
whole life, search included. 429s count every answer the stand-in refused for the rate limit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from scenario import approve, file_and_preview, peak_rss_mb, seed, server, state, wait_for, workspace

LIMIT = (1000, 10.0)  # LangSmith's documented ceiling for delete calls, per key


def run(size: int, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder, workspace(Path(folder)) as world:
        seed(world.langsmith, traces=size, projects=args.projects, others_per_project=1000)
        process = server(
            world,
            Path(folder),
            PURGEBOT_DELETE_CONCURRENCY=str(args.concurrency),
            PURGEBOT_LANGSMITH_QUERY_RATE="1000000/1s",
            PURGEBOT_LANGSMITH_V2_QUERY_RATE="1000000/1s",
        )
        with process:
            started = time.monotonic()
            preview = file_and_preview(world, process, timeout=1800)
            searched = time.monotonic() - started
            langsmith = world.langsmith
            langsmith.latency = args.latency
            langsmith.default_limit = LIMIT
            before = len(langsmith.calls)
            approved = approve(world, process, preview)
            wait_for("PURGE-1 is submitted", lambda: state(world.db_path) == "submitted", timeout=1800, poll=0.05)
            calls = langsmith.calls[before:]
            deletes = [c for c in calls if c.path.endswith("runs/delete") and c.status == 202]
            last = max(c.answered or c.at for c in deletes)
            rss = peak_rss_mb(process.pid)
    floor = max(len(deletes) / (LIMIT[0] / LIMIT[1]), args.latency * len(deletes) / args.concurrency)
    return {
        "traces": size,
        "calls": len(deletes),
        "refused": sum(1 for c in calls if c.status == 429),
        "seconds": last - approved,
        "floor": floor,
        "rss": rss,
        "search": searched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--traces", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; stand-in {args.latency * 1000:g} ms per call, "
        f"{LIMIT[0]} calls per {LIMIT[1]:g} s; PURGEBOT_DELETE_CONCURRENCY={args.concurrency}"
    )
    print(
        f"{'traces':>10}{'delete calls':>14}{'429s':>6}{'approval→last accepted':>24}{'floor':>8}{'ratio':>7}"
        f"{'peak RSS':>10}{'(search)':>10}"
    )
    for size in args.traces:
        row = run(size, args)
        print(
            f"{row['traces']:>10,}{row['calls']:>14,}{row['refused']:>6}{row['seconds']:>23.1f}s{row['floor']:>7.1f}s"
            f"{row['seconds'] / row['floor']:>6.2f}x{row['rss']:>8.1f}MB{row['search']:>9.0f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
