"""CPU time and load, read from /proc: what the benches print beside a latency, so a gap can be told
apart from a machine too busy to answer it (the CPU seconds each process used during a round)."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int | None) -> float:
    """User and system CPU seconds ``pid`` has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds each named process uses between ``start`` and ``stop``."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self._pids = pids
        self._before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self.used: dict[str, float] = {}

    def stop(self) -> dict[str, float]:
        self.used = {name: cpu_seconds(pid) - self._before[name] for name, pid in self._pids.items()}
        return self.used


def cpu_line(label: str, used: dict[str, float], wall: float) -> str:
    cores = len(os.sched_getaffinity(0))
    parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in used.items())
    return f"CPU s during {label} ({wall:.2f} s x {cores} cores = {wall * cores:.1f}): {parts}"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages: other work on the machine shows here."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
