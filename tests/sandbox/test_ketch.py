"""The Ketch callback stand-in accepts dsr/v1 status events only: enum statuses and reasons, never prose."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.ketch import FakeKetch, problems

GOOD: dict[str, Any] = {
    "apiVersion": "dsr/v1",
    "kind": "DeleteStatusEvent",
    "metadata": {"uid": "uid-1", "tenant": "t"},
    "event": {"status": "completed", "reason": "executed"},
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kind": "DeleteResponse"}, "kind DeleteStatusEvent"),
        ({"metadata": {}}, "metadata.uid"),
        ({"event": {"status": "done"}}, "event.status must be one of"),
        ({"event": {"status": "denied", "reason": "rejected by an approver"}}, "is not a dsr/v1 reason for denied"),
        ({"event": {"status": "completed", "reason": "no_match: nothing here"}}, "is not a dsr/v1 reason"),
        ({"event": {"status": "in_progress", "expectedCompletionTimestamp": "soon"}}, "UNIX time in seconds"),
    ],
)
def test_an_event_outside_dsr_v1_is_refused_400(change: dict[str, Any], problem: str) -> None:
    fake = FakeKetch()

    assert fake.record(GOOD | change, "Bearer x") == 400
    assert any(problem in found for found in problems(GOOD | change))
    assert fake.received == [] and len(fake.attempts) == 1


def test_a_dsr_v1_event_is_accepted() -> None:
    fake = FakeKetch()

    assert problems(GOOD) == [] and problems(GOOD | {"event": {"status": "denied", "reason": "unknown"}}) == []
    assert fake.record(GOOD, "Bearer x") == 200
    assert fake.statuses() == ["completed"]
