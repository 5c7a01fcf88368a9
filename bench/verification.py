"""Verification cost: queries and wall time to check a large subject purge at LangSmith's query limit.

    python bench/verification.py [--traces 1000000] [--projects 10] [--remain 3000] [--new 150]

Sets up a subject purge of ``--traces`` traces over ``--projects`` projects the way
``bench/throughput.py`` does (limits lifted and no latency: this bench measures the check), lets
LangSmith's weekend job run, and then checks it with ``purgebot verify PURGE-1`` — the real CLI, its
client limited to LangSmith's documented 15 ``runs/query`` calls per 10 s, against a stand-in that
refuses the 16th. Two checks:

1. **nothing remains**: every trace is gone;
2. **some remain**: ``--remain`` of the approved traces are back in one project (as if the weekend job
   had missed them) and ``--new`` traces of the subject appeared since the request in another.

For each: ``runs/query`` calls, 429s, the time from the first query to the last answer, and the
fastest the 15-per-10-s window allows for that many queries (from a cold start the window lets 15 go
at once, then 15 more each 10 s), so their ratio is how much of the allowance the limiter used. The
naive check asks for the approved IDs 100 at a time: ``traces / 100`` queries.
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

QUERIES = (15, 10.0)  # LangSmith's documented runs/query limit, per key


def fastest(queries: int) -> float:
    """Seconds the sliding window needs for ``queries`` calls from a cold start."""
    return QUERIES[1] * math.floor((queries - 1) / QUERIES[0]) if queries else 0.0


def check(process: ServeProcess, langsmith: FakeLangSmith) -> dict[str, float]:
    """Run ``purgebot verify PURGE-1`` and read its queries from the stand-in's log."""
    before = len(langsmith.calls)
    env = {**process.env, "PURGEBOT_LANGSMITH_QUERY_RATE": f"{QUERIES[0]}/{QUERIES[1]:g}s"}
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
        "fastest": fastest(len(answered)),
        "process": elapsed,
        "said": done.stdout.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--remain", type=int, default=3000, help="approved traces back in one project")
    parser.add_argument("--new", type=int, default=150, help="traces of the subject new since the request")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; {args.traces:,} traces, {args.projects} projects")
    with tempfile.TemporaryDirectory() as folder, workspace(Path(folder)) as world:
        langsmith = world.langsmith
        seed(langsmith, traces=args.traces, projects=args.projects, others_per_project=1000)
        process = server(world, Path(folder), PURGEBOT_LANGSMITH_QUERY_RATE="1000000/1s")
        with process:
            preview = file_and_preview(world, process, timeout=1800)
            approve(world, process, preview)
            wait_for("PURGE-1 is submitted", lambda: state(world.db_path) == "submitted", timeout=1800, poll=0.2)
        langsmith.run_weekend()
        langsmith.query_limit = QUERIES
        time.sleep(QUERIES[1])  # Monday: the search's queries have left LangSmith's window
        rows = [("nothing remains", check(process, langsmith))]

        store = Store(world.db_path)
        first = langsmith.project_id("prod-0")
        missed = [f.value for f in items.sent(store.db, 1) if f.container == first][: args.remain]
        store.close()
        for trace_id in missed:
            langsmith.add_trace(first, trace_id=trace_id, metadata={"user_id": SUBJECT})
        langsmith.add_traces(langsmith.project_id("prod-1"), args.new, metadata={"user_id": SUBJECT})
        time.sleep(QUERIES[1])  # and so have the first check's
        rows.append((f"{len(missed):,} remain, {args.new:,} new", check(process, langsmith)))

    naive = math.ceil(args.traces / 100)
    print(
        f"{'check':<26}{'runs/query':>11}{'429s':>6}{'first query→last answer':>25}{'fastest at 15/10s':>19}"
        f"{'used':>7}{'process':>9}"
    )
    for name, row in rows:
        # within one burst the window is not what sets the pace, so there is no share of it to show
        used = f"{row['fastest'] / row['span']:.0%}" if row["fastest"] else "-"
        print(
            f"{name:<26}{row['queries']:>11,}{row['refused']:>6}{row['span']:>24.1f}s{row['fastest']:>18.1f}s"
            f"{used:>7}{row['process']:>8.1f}s"
        )
        print(f"{'':<26}  purgebot verify: {row['said']}")
    print(f"{'naive (100 IDs a query)':<26}{naive:>11,}{'':>6}{fastest(naive):>24,.0f}s")


if __name__ == "__main__":
    main()
