"""Resolution of a subject purge: time and peak memory to find N matching traces, per query API.

    python bench/resolution.py [--traces 10000 100000] [--api v1 v2] [--projects 10] [--unlimited]

The LangSmith stand-in runs in its own process (so its memory is not counted), in ``dual`` mode,
seeded with ``--traces`` traces carrying ``user_id=123`` spread over ``--projects`` projects plus as
many unrelated ones. Each size and API is resolved in a fresh child process — the real ``Resolver``
streaming into a real SQLite file through the real client — which reports wall time, queries made,
429s and its peak RSS.

By default both sides keep LangSmith's documented run-query limits (v1: 10 per 10 s, 100 runs a
page; v2: 300 per 10 s, 1,000 a page), so the search is paced by the limit: ``floor`` is the least
time the stand-in's fixed windows allow for that many queries, and ``used`` is floor ÷ time, the
share of the allowance the client used. ``--unlimited`` lifts both limits to measure the bot's own
cost (``ms/1k`` is milliseconds per 1,000 traces found).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from scenario import peak_rss_mb

KEY = "lsv2_bench_key"
PAIRS = [("user_id", "123")]
LIMITS = {"v1": (10, 10.0), "v2": (300, 10.0)}  # LangSmith's documented run-query limits, per key
UNLIMITED = (1_000_000, 1.0)


def floor_seconds(queries: int, limit: tuple[int, float]) -> float:
    """The least time ``queries`` calls take under a fixed window of ``limit`` from a cold start: the
    first window's calls go at once, each later window's when it opens."""
    calls, period = limit
    return period * ((queries - 1) // calls) if queries else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def resolve(endpoint: str, api: str, limit: tuple[int, float]) -> dict[str, float]:
    """Run in a child process: resolve the subject's traces and report the numbers."""
    from datetime import UTC, datetime, timedelta

    from bot.langsmith import LangSmithClient, Window
    from bot.resolver import Resolver
    from storage import items, requests
    from storage.db import Store

    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child would report its parent's peak.
    baseline = peak_rss_mb(os.getpid())
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        with store.write() as db:
            request = requests.insert(
                db,
                kind="metadata",
                state="awaiting_approval",
                requester="U1",
                channel="C1",
                reason="bench",
                created_at="2026-01-01",
                updated_at="2026-01-01",
            )
        client = LangSmithClient(
            endpoint=endpoint, api_key=KEY, query_api=api, v1_query_rate=limit, v2_query_rate=limit
        )
        now = datetime.now(UTC)
        window = Window(now - timedelta(days=400), now)
        queries_before = len(httpx.get(f"{endpoint}/_sandbox/calls", timeout=60).json()["calls"])
        started = time.perf_counter()
        Resolver(store=store, langsmith=client).traces(request.id, PAIRS, window=window)
        elapsed = time.perf_counter() - started
        found = items.count(store.db, request.id)
        calls = [
            call
            for call in httpx.get(f"{endpoint}/_sandbox/calls", timeout=60).json()["calls"][queries_before:]
            if call["path"].endswith("runs/query")
        ]
        queries = sum(1 for call in calls if call["status"] == 200)
        refused = sum(1 for call in calls if call["status"] == 429)
        client.close()
        store.close()
    peak = peak_rss_mb(os.getpid())
    return {
        "found": found,
        "seconds": elapsed,
        "queries": queries,
        "refused": refused,
        "peak_mb": peak,
        "growth_mb": peak - baseline,
    }


def start_stand_in(
    size: int, projects: int, limits: dict[str, tuple[int, float]]
) -> tuple[subprocess.Popen[bytes], str]:
    """A seeded LangSmith stand-in in its own process, in ``dual`` mode (both query APIs served)."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.sandbox.langsmith",
            "--port",
            str(port),
            "--api-key",
            KEY,
            "--backend",
            "dual",
            "--query-limit",
            "{}/{:g}".format(*limits["v1"]),
            "--v2-query-limit",
            "{}/{:g}".format(*limits["v2"]),
            "--default-limit",
            "100000/1",
        ],
        stdout=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{endpoint}/_sandbox/status")
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)
    for n in range(projects):
        share = size // projects + (1 if n < size % projects else 0)
        for metadata in (dict(PAIRS), {"user_id": "456"}):
            httpx.post(
                f"{endpoint}/_sandbox/seed",
                timeout=600,
                json={"project": f"project-{n}", "traces": share, "metadata": metadata},
            )
    return server, endpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--traces", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--api", nargs="+", choices=["v1", "v2"], default=["v1", "v2"])
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--unlimited", action="store_true", help="lift the query limits: the bot's own cost")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-api", help=argparse.SUPPRESS)
    parser.add_argument("--child-limit", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        calls, per = args.child_limit.split("/")
        print(json.dumps(resolve(args.child, args.child_api, (int(calls), float(per)))))
        return
    limits = {api: UNLIMITED if args.unlimited else LIMITS[api] for api in ("v1", "v2")}
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; limits: "
          + ", ".join(f"{api} {calls}/{per:g}s" for api, (calls, per) in limits.items()))  # fmt: skip
    print(
        f"{'traces':>10}{'api':>4}{'found':>10}{'queries':>9}{'429s':>6}{'seconds':>9}{'floor':>8}{'used':>6}"
        f"{'ms/1k':>7}{'peak RSS MB':>13}{'growth MB':>11}"
    )
    for size in args.traces:
        server, endpoint = start_stand_in(size, args.projects, limits)
        try:
            for api in args.api:
                limit = "{}/{:g}".format(*limits[api])
                child = subprocess.run(
                    [sys.executable, __file__, "--child", endpoint, "--child-api", api, "--child-limit", limit],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ},
                )
                n = json.loads(child.stdout.strip().splitlines()[-1])
                floor = floor_seconds(int(n["queries"]), limits[api])
                used = f"{floor / n['seconds']:.0%}" if floor else "-"
                print(
                    f"{size:>10,}{api:>4}{int(n['found']):>10,}{int(n['queries']):>9,}{int(n['refused']):>6}"
                    f"{n['seconds']:>9.1f}{floor:>8.1f}{used:>6}{1000 * n['seconds'] / max(n['found'], 1) * 1000:>7.1f}"
                    f"{n['peak_mb']:>13.1f}{n['growth_mb']:>11.1f}"
                )
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
