"""Start-up: from ``purgebot serve`` to a healthy ``/healthz``, and the demo's run time.

    python bench/startup.py [--runs 5]

Each run starts the real console script as a new process against the sandbox stand-ins (served
in this process) on a fresh database, measures until ``GET /healthz`` answers 200, and stops it.
The demo is timed the same way, from process start to exit.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.sandbox.process import ServeProcess
from bot.sandbox.world import running_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    serve_times: list[float] = []
    with tempfile.TemporaryDirectory() as folder, running_world(Path(folder) / "unused.db", start=False) as world:
        for n in range(args.runs):
            server = ServeProcess(
                db_path=Path(folder) / f"run-{n}.db",
                slack_url=world.slack_url,
                langsmith_url=world.langsmith_url,
                log_path=Path(folder) / f"run-{n}.log",
            )
            started = time.perf_counter()
            server.start()
            serve_times.append(time.perf_counter() - started)
            server.stop()
    demo_times = []
    script = Path(sys.executable).parent / "purgebot"
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([str(script), "demo"], check=True, stdout=subprocess.DEVNULL)
        demo_times.append(time.perf_counter() - started)
    print(f"{'what':<36}{'runs':>6}{'median s':>10}{'worst s':>9}")
    for name, times in (("purgebot serve → /healthz 200", serve_times), ("purgebot demo, start to exit", demo_times)):
        print(f"{name:<36}{len(times):>6}{statistics.median(times):>10.2f}{max(times):>9.2f}")


if __name__ == "__main__":
    main()
