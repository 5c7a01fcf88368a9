"""One logical call to LangSmith: paced by rate limiters, retried through stamina, errors mapped.

The wire is injectable (``transport=``, an httpx transport), so tests change the wire, not this
code.  Respecting the vendor is built in: every call takes a slot of a shared limiter (and a query
takes one of its API's own), so the client never provokes a 429 itself; 429, 408, every 5xx and
transport failures are retried with jittered exponential back-off (honouring ``Retry-After``);
any other 4xx fails at once.  Retrying POSTs is safe here: queueing a delete twice, re-running a
query and hard-deleting an already deleted example all leave the same result.

Both bounds of a :class:`RetryPolicy` hold: at most ``attempts`` calls, and no wait is started
that would end after ``timeout`` (a long ``Retry-After`` ends the retries early instead, and
:class:`LangSmithUnavailable` carries it so the caller can pause until then).

Before each wait between attempts the transport tells whoever asked (:meth:`Transport.reporting_waits`,
or ``on_wait=`` for every call) with a :class:`WaitNotice`.  The hook travels in a context variable,
so one client shared by several threads reports each wait only to the code that made the call.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import stamina

from bot.langsmith.errors import LangSmithRejected, LangSmithUnavailable, UnexpectedResponse
from bot.langsmith.ratelimit import LimiterClosed, RateLimiter

__all__ = ["RETRY_AFTER_CAP", "RetryPolicy", "Transport", "WaitHook", "WaitNotice", "is_retryable"]

log = logging.getLogger("bot.langsmith")

RETRY_AFTER_CAP = 60.0  # the Stainless clients ignore longer hints; so do we


def is_retryable(status: int) -> bool:
    """408, 429 and every 5xx (a proxy's 520 as much as a 503): DESIGN's "retryable answer"."""
    return status in (408, 429) or 500 <= status <= 599


@dataclass(frozen=True)
class WaitNotice:
    """The client is about to wait before trying a call again.

    ``status`` is LangSmith's retryable answer (429, 408, 5xx), or None after a transport failure
    (timeout, reset connection), which ``reason`` then names.  ``seconds`` is the wait about to
    start; ``retry_after`` what LangSmith asked for (None if it did not say).  ``attempt`` is the
    number of the attempt that just failed (1-based), of at most ``attempts``.
    """

    status: int | None
    seconds: float
    method: str
    path: str
    retry_after: float | None
    attempt: int
    attempts: int
    reason: str

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


WaitHook = Callable[[WaitNotice], None]

_WAIT_HOOK: ContextVar[WaitHook | None] = ContextVar("langsmith_wait_hook", default=None)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a retryable answer before raising :class:`LangSmithUnavailable`.

    The defaults follow the reference's advice for 429s without ``Retry-After`` (start in the
    seconds, cap at 60 s, jitter) while keeping one call under a few minutes.
    """

    attempts: int = 6
    timeout: float = 180.0
    wait_initial: float = 2.0
    wait_max: float = 60.0
    wait_jitter: float = 1.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based) when LangSmith gave no hint:
        stamina's formula, ``min(wait_max, wait_initial * 2 ** (attempt - 1) + jitter)``."""
        jitter = random.uniform(0, self.wait_jitter) if self.wait_jitter else 0.0
        try:
            return float(min(self.wait_max, self.wait_initial * 2 ** (attempt - 1) + jitter))
        except OverflowError:
            return self.wait_max


class _RetryableAnswer(Exception):
    """Internal: a retryable status, raised inside a stamina attempt so it gets retried."""

    def __init__(self, status: int, reason: str, retry_after: float | None) -> None:
        super().__init__(f"status {status}")
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class Transport:
    """The HTTP session of one API key: headers, limits, retries, scrubbing. Thread-safe."""

    def __init__(
        self,
        *,
        api_key: str,
        workspace_id: str | None,
        transport: httpx.BaseTransport | None,
        timeout: float,
        retry: RetryPolicy,
        call_limiter: RateLimiter,
        on_wait: WaitHook | None,
    ) -> None:
        self.retry = retry
        self.call_limiter = call_limiter
        self.on_wait = on_wait  # told of every wait unless the calling context has its own hook
        self._api_key = api_key
        headers = {"X-API-Key": api_key, "Accept": "application/json", "User-Agent": "purgebot/0.1"}
        if workspace_id:
            headers["X-Tenant-Id"] = workspace_id
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    @staticmethod
    @contextmanager
    def reporting_waits(hook: WaitHook | None) -> Iterator[None]:
        """Within this block (in this thread or task), every wait before a retry is reported to ``hook``.

        The hook runs in the calling thread just before the wait starts; an exception it raises is
        logged and ignored, so reporting never changes what the call does.
        """
        token = _WAIT_HOOK.set(hook)
        try:
            yield
        finally:
            _WAIT_HOOK.reset(token)

    def get_json(self, url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.send("GET", url, params=params)[1]

    def post_json(self, url: str, body: Any, *, limiter: RateLimiter | None = None) -> Any:
        return self.send("POST", url, json_body=body, limiter=limiter)[1]

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        limiter: RateLimiter | None = None,
    ) -> tuple[int, Any]:
        """One logical call; ``limiter`` is an extra budget (a query API's) besides the call limiter.

        Returns (status, decoded JSON body) for a 2xx.
        """
        path = httpx.URL(url).path
        policy = self.retry
        response: httpx.Response | None = None
        started = time.monotonic()
        attempts_made = 0

        def backoff(exc: Exception) -> bool | float:
            """stamina ``on=`` hook: whether to retry, and how long to wait first.

            The wait is always decided here (LangSmith's ``Retry-After``, else the policy's
            back-off), so it can be reported before it starts and kept inside the policy's timeout.
            """
            if isinstance(exc, _RetryableAnswer):
                status, hint, reason = exc.status, exc.retry_after, exc.reason
            elif _is_transport_failure(exc):
                status, hint = None, None
                reason = self.scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
            else:
                return False
            wait = hint if hint is not None else policy.backoff(attempts_made)
            if attempts_made >= policy.attempts:
                return True  # stamina stops here: the last attempt failed, no wait follows
            if time.monotonic() - started + wait > policy.timeout:
                return False  # waiting would overrun the policy: give up now, carrying the hint
            if stamina.is_testing():
                wait = 0.0
            self._report_wait(
                WaitNotice(
                    status=status,
                    seconds=wait,
                    method=method,
                    path=path,
                    retry_after=hint,
                    attempt=attempts_made,
                    attempts=policy.attempts,
                    reason=reason,
                )
            )
            return wait

        try:
            for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.attempts,
                timeout=policy.timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    attempts_made = attempt.num
                    if attempt.num > 1:
                        log.info("langsmith retry", extra={"method": method, "path": path, "attempt": attempt.num})
                    with self._slots(limiter):
                        response = self._http.request(method, url, params=params, json=json_body)
                    if is_retryable(response.status_code):
                        raise _RetryableAnswer(
                            response.status_code,
                            self.scrub(error_message(response)),
                            _parse_retry_after(response),
                        )
        except _RetryableAnswer as exc:
            raise LangSmithUnavailable(
                status=exc.status, reason=exc.reason, retry_after=exc.retry_after, method=method, path=path
            ) from None
        except httpx.TransportError as exc:
            reason = self.scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
            raise LangSmithUnavailable(status=None, reason=reason, retry_after=None, method=method, path=path) from None
        except LimiterClosed:
            raise LangSmithUnavailable(
                status=None, reason="the client was closed", retry_after=None, method=method, path=path
            ) from None
        assert response is not None
        status = response.status_code
        if not 200 <= status < 300:
            raise LangSmithRejected(status, self.scrub(error_message(response)), method=method, path=path)
        if not response.content:
            return status, {}
        try:
            return status, response.json()
        except ValueError:
            raise UnexpectedResponse(f"{method} {path} answered {status} with a body that is not JSON") from None

    def scrub(self, text: str) -> str:
        """Belt and braces: no message leaves this client carrying the key."""
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def _report_wait(self, notice: WaitNotice) -> None:
        hook = _WAIT_HOOK.get() or self.on_wait
        if hook is None:
            return
        try:
            hook(notice)
        except Exception:  # a reporting hook must never change what the call does
            log.exception("a wait hook failed", extra={"method": notice.method, "path": notice.path})

    def _slots(self, limiter: RateLimiter | None) -> ExitStack[bool | None]:
        """Hold the API's slot (if any) and the general slot for one attempt; same order always."""
        stack = ExitStack()
        stack.enter_context(limiter.slot() if limiter is not None else nullcontext())
        stack.enter_context(self.call_limiter.slot())
        return stack


def _parse_retry_after(response: httpx.Response) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or HTTP date), capped at 60 s; None if absent."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def error_message(response: httpx.Response) -> str:
    """LangSmith's own words from an error body, in any of its shapes.

    v2: ``{"error": {"message", "code", "status"}}``; v1: ``{"error": "...", "details"?}``;
    FastAPI: ``{"detail": "..."}`` or a list of validation errors; else ``message`` or the text.
    """
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:300] if text else response.reason_phrase
    if isinstance(body, dict):
        for reader in (_v2_error, _fastapi_detail, _v1_error):
            found = reader(body)
            if found:
                return found
        message = body.get("message")
        if isinstance(message, str):
            return message
    return json.dumps(body)[:300]


def _v2_error(body: dict[str, Any]) -> str | None:
    error = body.get("error")
    if not isinstance(error, dict):
        return None
    message = str(error.get("message") or "")
    code = error.get("code")
    return f"{message} ({code})" if code and message else message or (str(code) if code else None)


def _fastapi_detail(body: dict[str, Any]) -> str | None:
    detail = body.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # FastAPI validation errors
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", []))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
        return "; ".join(parts) or None
    return None


def _v1_error(body: dict[str, Any]) -> str | None:
    error = body.get("error")
    if not isinstance(error, str):
        return None
    details = body.get("details")
    return f"{error} ({details})" if details else error


def _is_transport_failure(exc: Exception) -> bool:
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)
