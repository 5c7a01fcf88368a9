"""A stand-in for Ketch's callback endpoint: records the ``DeleteStatusEvent``s purgebot sends it.

``down`` makes it answer 503 (an outage), ``refuse_with`` another status (a dead end); every attempt
is recorded either way, so a test can tell "arrived once" from "attempted several times". An event
that does not follow dsr/v1 (its kinds, statuses and reasons are enums; a reason is never prose) is
answered 400, as strictly as Ketch could, so a free-text reason fails a test instead of a tenant. The demo
or a test serves it with ``bot.sandbox.serving.serve(create_app(fake))`` and gives ``{url}/callback``
as a request's callback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

STATUSES = frozenset({"unknown", "pending", "in_progress", "completed", "cancelled", "denied"})
REASONS = {  # dsr/v1 Status.md: the reasons each status may carry ("unknown" goes with any)
    "pending": {"need_user_verification"},
    "completed": {"requested", "no_match", "insufficient_identification", "executed"},
    "denied": {
        "no_match",
        "insufficient_identification",
        "insufficient_verification",
        "claim_not_covered",
        "outside_jurisdiction",
        "too_many_requests",
        "suspected_fraud",
    },
}


def problems(body: Any) -> list[str]:
    """What makes ``body`` no dsr/v1 ``DeleteStatusEvent``: empty when it is one."""
    if not isinstance(body, dict):
        return ["the body is not an object"]
    found = []
    if body.get("apiVersion") != "dsr/v1" or body.get("kind") != "DeleteStatusEvent":
        found.append("apiVersion must be dsr/v1 and kind DeleteStatusEvent")
    if not isinstance(body.get("metadata"), dict) or not body["metadata"].get("uid"):
        found.append("metadata.uid is required")
    event = body.get("event")
    if not isinstance(event, dict) or event.get("status") not in STATUSES:
        return [*found, f"event.status must be one of {sorted(STATUSES)}"]
    reason = event.get("reason")
    if reason is not None and reason != "unknown" and reason not in REASONS.get(event["status"], set()):
        found.append(f"event.reason {reason!r} is not a dsr/v1 reason for {event['status']}")
    completion = event.get("expectedCompletionTimestamp")
    if completion is not None and not isinstance(completion, int):
        found.append("event.expectedCompletionTimestamp must be a UNIX time in seconds")
    return found


@dataclass(frozen=True)
class Delivery:
    """One attempt: what arrived, with which Authorization header, and whether it was accepted."""

    body: dict[str, Any]
    authorization: str | None
    accepted: bool

    @property
    def status(self) -> str:
        return str(self.body.get("event", {}).get("status"))


class FakeKetch:
    """Ketch's side of the callbacks."""

    def __init__(self) -> None:
        self.down = False
        self.refuse_with: int | None = None  # e.g. 401: the callback's credential is no longer accepted
        self._lock = threading.Lock()
        self._attempts: list[Delivery] = []

    def record(self, body: dict[str, Any], authorization: str | None) -> int:
        """The HTTP status this attempt is answered with."""
        with self._lock:
            status = 503 if self.down else self.refuse_with or (400 if problems(body) else 200)
            self._attempts.append(Delivery(body, authorization, status == 200))
            return status

    @property
    def attempts(self) -> list[Delivery]:
        with self._lock:
            return list(self._attempts)

    @property
    def received(self) -> list[Delivery]:
        """The events accepted, in the order they arrived."""
        return [attempt for attempt in self.attempts if attempt.accepted]

    def statuses(self) -> list[str]:
        return [delivery.status for delivery in self.received]

    def wait_for(self, predicate: Callable[[FakeKetch], bool], timeout: float = 10.0) -> None:
        """Poll until ``predicate(self)`` holds: purgebot sends from its own worker thread."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"still not so after {timeout:g}s; attempts: {[a.status for a in self.attempts]}")
            time.sleep(0.01)


def create_app(fake: FakeKetch) -> Starlette:
    async def callback(request: Request) -> Response:
        body = json.loads(await request.body())
        status = fake.record(body, request.headers.get("authorization"))
        return JSONResponse({} if status == 200 else {"error": "refused"}, status_code=status)

    return Starlette(routes=[Route("/callback", callback, methods=["POST"])])
