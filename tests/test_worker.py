"""Worker: a step's exception is survived; anything that ends the thread shows in ``alive`` (and /healthz)."""

from __future__ import annotations

import threading

import pytest

from bot.worker import Worker


def run_steps(step_error: BaseException) -> tuple[Worker, list[int]]:
    calls: list[int] = []
    done = threading.Event()

    def step() -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise step_error
        done.set()
        return False

    worker = Worker("test", step, idle=0.01)
    worker.start()
    done.wait(2)
    return worker, calls


def test_a_step_that_raises_an_exception_is_survived() -> None:
    worker, calls = run_steps(ValueError("one bad request"))
    try:
        assert worker.alive and len(calls) >= 2
    finally:
        worker.stop()
    assert not worker.alive


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the thread's death is the point
def test_a_step_that_raises_past_exception_ends_the_worker_and_it_shows() -> None:
    worker, calls = run_steps(SystemExit(3))
    try:
        assert calls == [1]
        assert not worker.alive
    finally:
        worker.stop()


def test_a_worker_never_started_is_not_alive() -> None:
    assert not Worker("idle", lambda: False).alive
