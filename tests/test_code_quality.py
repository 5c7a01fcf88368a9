"""The code stays ruff-clean and mypy-strict-clean: checked here so the one test command covers it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", "bot", "handlers", "storage", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_handlers_are_imported_only_by_the_composition_root() -> None:
    """Dependencies point one way: handlers → bot → storage; only bot.app imports handlers."""
    importers = []
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("storage/**/*.py")]:
        text = path.read_text()
        if "import handlers" in text or "from handlers" in text:
            importers.append(path.relative_to(ROOT).as_posix())
    assert importers == ["bot/app.py"]
    storage_importers = [
        p.relative_to(ROOT).as_posix()
        for p in ROOT.glob("storage/**/*.py")
        if "from bot" in p.read_text() or "import bot" in p.read_text()
    ]
    assert storage_importers == []
