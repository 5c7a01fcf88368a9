"""Ack latency of signed slash commands over loopback HTTP, against the sandbox stand-ins.

    python bench/ack_latency.py [--count 100]

Sends ``count`` signed ``/purge`` commands of each kind to a running purgebot (HTTP server,
executor, scheduler and notifier all running) and prints median, p99 and worst time from
sending the request to reading Slack's 200. Filing commands are real: each one is stored and
previewed by the executor while the next ones arrive.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bot.sandbox.world import REQUESTS_CHANNEL, running_world


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, running_world(Path(folder) / "bench.db") as world:
        assert world.people is not None
        project = world.langsmith.add_project("prod-chat")
        ids = world.langsmith.add_traces(project, 20)
        kinds = {
            "help": "help",
            "status": "status PURGE-1",
            "file traces (20 IDs)": f"traces prod-chat {' '.join(ids)} --reason DSR-1042",
        }
        print(f"{'command':<24}{'n':>6}{'median ms':>12}{'p99 ms':>10}{'worst ms':>10}")
        for name, text in kinds.items():
            world.people.alice.slash(text, channel_id=REQUESTS_CHANNEL)  # warm-up, not counted
            times = []
            for _ in range(args.count):
                delivered = world.people.alice.slash(text, channel_id=REQUESTS_CHANNEL)
                assert delivered.status == 200, delivered.body
                times.append(delivered.elapsed * 1000)
            print(
                f"{name:<24}{len(times):>6}{statistics.median(times):>12.1f}{percentile(times, 0.99):>10.1f}"
                f"{max(times):>10.1f}"
            )


if __name__ == "__main__":
    main()
