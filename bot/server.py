"""The HTTP surface: ``POST /slack/events`` for Bolt and ``GET /healthz``, served by uvicorn.

Bolt's own Starlette adapter calls ``dispatch`` on the event loop, which would make every request
wait for the one before it; here ``dispatch`` runs in the thread pool, so acks stay fast under
concurrency. Headers that Bolt's verifier would crash on (an empty timestamp gives a 500) are
refused with the same 401 it gives for a bad signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_bolt.request.internals import build_context
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

INVALID = {"error": "invalid request"}
FORM = "application/x-www-form-urlencoded"


def create_web_app(bolt: App) -> Starlette:
    async def slack_events(request: Request) -> Response:
        body = await request.body()
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

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


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
