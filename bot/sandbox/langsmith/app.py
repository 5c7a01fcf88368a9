"""The ASGI app: records each call, applies injected faults and latency, then lets the service answer.

An ASGI app cannot reset its TCP connection, so a reset needs :mod:`bot.sandbox.faulty_proxy` in
front: the app marks the answer (:data:`RESET_HEADER`) and the proxy, instead of relaying it,
closes the client's connection with an RST.  Without the proxy a reset is answered ``502`` (what a
load balancer says when its upstream resets), and the call is recorded with that status.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.sandbox.langsmith.answers import error_body
from bot.sandbox.langsmith.calls import Call
from bot.sandbox.langsmith.controls import control
from bot.sandbox.langsmith.faults import Fault, retry_after_text
from bot.sandbox.langsmith.service import FakeLangSmith
from bot.sandbox.langsmith.wire import split_path

PROXY_HEADER = "x-sandbox-proxy"  # added by the faulty proxy: it can reset connections
RESET_HEADER = "x-sandbox-reset"  # on an answer: the proxy resets the connection instead of relaying it


def create_app(state: FakeLangSmith) -> Starlette:
    """The Starlette app serving ``state`` over HTTP, in every path layout."""

    async def api(request: Request) -> Response:
        path = request.url.path
        family, _ = split_path(path)
        if family == "sandbox":
            return await control(state, request)
        try:
            raw = await request.body()
        except ClientDisconnect:
            return Response(status_code=499)
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        headers = {k: ("<redacted>" if k == "x-api-key" else v) for k, v in request.headers.items()}
        query = {k: request.query_params.getlist(k) for k in request.query_params}
        index = state.call_log.record(Call(request.method, path, query, parsed, None, time.monotonic(), headers))
        fault = state.faults.take(path)
        label = fault.label if fault is not None else None
        delay = state.latency + (fault.delay if fault else 0.0)
        if delay > 0 and not await _wait(request, delay):
            state.call_log.finish(index, 499, label)  # the client gave up (nginx's "client closed request")
            return Response(status_code=499)
        proxied = PROXY_HEADER in request.headers
        if fault is not None and fault.reset == "before":
            if proxied:
                state.call_log.finish(index, None, label)
                return Response(status_code=502, headers={RESET_HEADER: "before"})
            return _no_proxy_reset(state, index, fault)
        if fault is not None and fault.status is not None:
            status = fault.status
            body = fault.body if fault.body is not None else error_body(family, status, f"Injected fault {status}")
            extra = {"Retry-After": retry_after_text(fault.retry_after)} if fault.retry_after is not None else {}
        else:
            status, body, extra = state.handle(request.method, path, request.query_params, raw, request.headers)
        if fault is not None and fault.reset == "after":
            if proxied:
                state.call_log.finish(index, status, label)  # done, but the answer never reaches the client
                return JSONResponse(body, status_code=status, headers={**extra, RESET_HEADER: "after"})
            return _no_proxy_reset(state, index, fault)
        state.call_log.finish(index, status, label)
        return JSONResponse(body, status_code=status, headers=extra)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", api, methods=methods)])


async def _wait(request: Request, seconds: float) -> bool:
    """Sleep up to ``seconds``; stop early (returning False) if the client hung up."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, 0.05))
        if await request.is_disconnected():
            return False


def _no_proxy_reset(state: FakeLangSmith, index: int, fault: Fault) -> Response:
    """A reset asked for without the faulty proxy in front: answer as a load balancer would."""
    state.call_log.finish(index, 502, fault.label)
    return JSONResponse({"detail": "upstream connection reset (no faulty proxy in front)"}, status_code=502)
