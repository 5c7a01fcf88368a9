"""The HTTP surface: ``POST /slack/events`` for Bolt and ``GET /healthz``, served by uvicorn.

``/healthz`` answers 200 while the bot can do its work and 503 with the reasons when it cannot (the
database is not writable, a worker died, the scheduler stalled), so a platform's probe restarts it.

Bolt's own Starlette adapter calls ``dispatch`` on the event loop, which would make every request
wait for the one before it; here ``dispatch`` runs in the thread pool, so acks stay fast under
concurrency. Headers that Bolt's verifier would crash on (an empty timestamp gives a 500) are
refused with the same 401 it gives for a bad signature, and a body over 1 MiB with 413 before it is
read whole (the signature cannot be checked without the body, so its size is checked first).

The intake API (``/intake/…``, :mod:`bot.intake`) lives on the same server: the bearer token is
compared in constant time before the body is read; without ``PURGEBOT_INTAKE_TOKEN`` it answers 404.
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_bolt.request.internals import build_context
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.intake import Answer, Intake

INVALID = {"error": "invalid request"}
TOO_LARGE = {"error": "request body too large"}
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 1024 * 1024  # Slack's own payloads stay far below this; anything larger is refused unread


class _TooLarge(Exception):
    pass


async def _body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, read only up to ``limit`` bytes: a declared or streamed excess raises before it is held."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_web_app(bolt: App, health: Callable[[], list[str]] | None = None, intake: Intake | None = None) -> Starlette:
    """``/slack/events`` for ``bolt``, ``/healthz`` (503 with ``health()``'s reasons) and ``intake``'s API."""

    async def slack_events(request: Request) -> Response:
        try:
            body = await _body(request)
        except _TooLarge:
            return JSONResponse(TOO_LARGE, status_code=413)
        timestamp = request.headers.get("x-slack-request-timestamp", "").strip()
        if not timestamp.isdigit() or not request.headers.get("x-slack-signature"):
            return JSONResponse(INVALID, status_code=401)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return JSONResponse(INVALID, status_code=401)
        query = str(request.url.query)
        headers: dict[str, str | Sequence[str]] = {key: [value] for key, value in request.headers.items()}

        def dispatch() -> BoltResponse:
            # Parsing a click's form (the whole message, URL-encoded) is real work: done here, in the
            # thread pool, it does not hold up the event loop that every other request waits on.
            return bolt.dispatch(_bolt_request(text, query=query, headers=headers))

        return to_starlette_response(await run_in_threadpool(dispatch))

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", _healthz(health), methods=["GET"]),
            *_intake_routes(intake),
        ]
    )


def _intake_routes(intake: Intake | None) -> list[Route]:
    """``POST /intake/ketch``, ``POST /intake/requests`` and ``GET /intake/requests/PURGE-n``: thin, each
    one checks the token, reads the JSON body and hands it to :class:`bot.intake.Intake`."""
    if intake is None:
        return []  # Starlette answers 404
    api: Intake = intake

    def refused(request: Request) -> Response | None:
        if not api.enabled:
            return JSONResponse({"error": "not found"}, status_code=404)
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        ok = hmac.compare_digest(token.strip().encode(), api.token.encode())
        if scheme.lower() != "bearer" or not ok:
            return JSONResponse({"error": "a valid bearer token is required"}, status_code=401)
        return None

    async def posted(request: Request, handle: Callable[[Any], Answer]) -> Response:
        problem = refused(request)
        if problem is not None:
            return problem
        try:
            body = await _body(request)
        except _TooLarge:
            return JSONResponse(TOO_LARGE, status_code=413)
        try:
            parsed = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return JSONResponse({"error": "the body must be JSON"}, status_code=400)
        answer = await run_in_threadpool(handle, parsed)
        return JSONResponse(answer.body, status_code=answer.status)

    async def ketch(request: Request) -> Response:
        return await posted(request, api.ketch)

    async def submit(request: Request) -> Response:
        return await posted(request, api.submit)

    async def describe(request: Request) -> Response:
        problem = refused(request)
        if problem is not None:
            return problem
        answer = await run_in_threadpool(api.describe, str(request.path_params["label"]))
        return JSONResponse(answer.body, status_code=answer.status)

    return [
        Route("/intake/ketch", ketch, methods=["POST"]),
        Route("/intake/requests", submit, methods=["POST"]),
        Route("/intake/requests/{label}", describe, methods=["GET"]),
    ]


def create_health_app(health: Callable[[], list[str]]) -> Starlette:
    """Only ``/healthz``: what Socket Mode serves on $PORT, where Slack's events arrive over the socket."""
    return Starlette(routes=[Route("/healthz", _healthz(health), methods=["GET"])])


def _healthz(health: Callable[[], list[str]] | None) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(_: Request) -> Response:
        # The database probe opens a file: in the thread pool, off the loop that acks Slack.
        problems = await run_in_threadpool(health) if health is not None else []
        if problems:
            return JSONResponse({"ok": False, "problems": problems}, status_code=503)
        return JSONResponse({"ok": True})

    return healthz


def serve_health_in_background(health: Callable[[], list[str]], port: int) -> None:
    """Serve ``/healthz`` on ``0.0.0.0:port`` from a daemon thread (Socket Mode's main thread holds the socket).

    Binds before returning, so a port in use is an ``OSError`` here, not a silent thread death.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("0.0.0.0", port))
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(create_health_app(health), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="healthz", daemon=True).start()


def _bolt_request(text: str, *, query: str, headers: dict[str, str | Sequence[str]]) -> BoltRequest:
    """Bolt's request for ``text``, with its form parsing corrected.

    Bolt (1.30) reads any form body that merely *contains* the letters ``payload`` as an
    interactivity payload and, finding no ``payload`` field, as empty: a ``/purge`` whose text,
    channel name or user name says "payload" would be answered 404 "unhandled request". A form
    without a ``payload`` field is a slash command; parse it as one. The raw body (and with it
    the signature check) is untouched.
    """
    bolt_request = BoltRequest(body=text, query=query, headers=headers)
    if bolt_request.body or "payload" not in text or bolt_request.content_type != FORM:
        return bolt_request
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" not in fields:
        bolt_request.body = fields
        bolt_request.context = build_context(BoltContext({}), fields)
    return bolt_request
