"""Resolution of a subject purge: time and peak memory to find N matching traces.

    python bench/resolution.py [--traces 10000 100000] [--projects 10] [--query-limit 100000/1]

The LangSmith stand-in runs in its own process (so its memory is not counted), seeded with
``--traces`` traces carrying ``user_id=123`` spread over ``--projects`` projects plus as many
unrelated ones. Each size is resolved in a fresh child process — the real ``Resolver`` streaming
into a real SQLite file through the real client — which reports wall time, queries made and its
peak RSS. ``--query-limit`` lifts the stand-in's runs/query limit (and the client's matching pace)
so the bot's own cost is measured; at LangSmith's documented 15 calls per 10 s the same search
takes ``queries * 10 / 15`` seconds, printed alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

KEY = "lsv2_bench_key"
PAIRS = [("user_id", "123")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def resolve(endpoint: str, query_limit: str) -> dict[str, float]:
    """Run in a child process: resolve the subject's traces and report the numbers."""
    from bot.langsmith import LangSmithClient
    from bot.resolver import Resolver
    from storage import items, requests
    from storage.db import Store

    calls, per = query_limit.split("/")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
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
        client = LangSmithClient(endpoint=endpoint, api_key=KEY, query_rate=(int(calls), float(per)))
        queries_before = len(httpx.get(f"{endpoint}/_sandbox/calls").json()["calls"])
        started = time.perf_counter()
        Resolver(store=store, langsmith=client).traces(request.id, PAIRS)
        elapsed = time.perf_counter() - started
        found = items.count(store.db, request.id)
        queries = sum(
            1
            for call in httpx.get(f"{endpoint}/_sandbox/calls").json()["calls"][queries_before:]
            if call["path"].endswith("runs/query")
        )
        client.close()
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "found": found,
        "seconds": elapsed,
        "queries": queries,
        "peak_mb": peak / 1024,
        "growth_mb": (peak - baseline) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--query-limit", default="100000/1")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(resolve(args.child, args.query_limit)))
        return
    print(f"{'traces':>9}{'found':>9}{'queries':>9}{'seconds':>9}{'at 15/10s':>11}{'peak RSS MB':>13}{'growth MB':>11}")
    for size in args.traces:
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
                "--query-limit",
                args.query_limit.replace("s", ""),
                "--default-limit",
                "100000/1",
            ],
            stdout=subprocess.DEVNULL,
        )
        endpoint = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(f"{endpoint}/_sandbox/status")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            for n in range(args.projects):
                share = size // args.projects + (1 if n < size % args.projects else 0)
                httpx.post(
                    f"{endpoint}/_sandbox/seed",
                    timeout=120,
                    json={"project": f"project-{n}", "traces": share, "metadata": dict(PAIRS)},
                )
                httpx.post(
                    f"{endpoint}/_sandbox/seed",
                    timeout=120,
                    json={"project": f"project-{n}", "traces": share, "metadata": {"user_id": "456"}},
                )
            child = subprocess.run(
                [sys.executable, __file__, "--child", endpoint, "--query-limit", args.query_limit],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ},
            )
            numbers = json.loads(child.stdout.strip().splitlines()[-1])
        finally:
            server.terminate()
            server.wait(10)
        print(
            f"{size:>9,}{numbers['found']:>9,}{numbers['queries']:>9,}{numbers['seconds']:>9.1f}"
            f"{numbers['queries'] * 10 / 15:>10.0f}s{numbers['peak_mb']:>13.1f}{numbers['growth_mb']:>11.1f}"
        )


if __name__ == "__main__":
    main()
