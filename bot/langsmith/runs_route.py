"""What v1's and v2's run-query modules share: one POST route with its own rate budget, and the
answers that mean the route is gone from this deployment (never "nothing found")."""

from __future__ import annotations

from typing import Any, ClassVar

from bot.langsmith.errors import LangSmithRejected, QueryApiGone
from bot.langsmith.ratelimit import RateLimiter
from bot.langsmith.transport import Transport

__all__ = ["RunQueryRoute"]


class RunQueryRoute:
    """``POST {root}/runs/query`` of one workspace, paced by the API's own limiter."""

    gone_statuses: ClassVar[frozenset[int]]  # the statuses that say this API does not exist here

    def __init__(self, transport: Transport, root: str, limiter: RateLimiter) -> None:
        self._transport = transport
        self._url = f"{root}/runs/query"
        self._limiter = limiter

    def _post(self, body: dict[str, Any]) -> Any:
        try:
            return self._transport.post_json(self._url, body, limiter=self._limiter)
        except LangSmithRejected as exc:
            if exc.status in self.gone_statuses:
                raise QueryApiGone(exc.status, exc.message, method=exc.method, path=exc.path) from None
            raise
