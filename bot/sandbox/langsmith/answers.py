"""Error answers in the shapes LangSmith uses, and the request parsing that raises them.

Each API family has its own error shape, and a client must cope with each:

* v1 (FastAPI): ``{"detail": "..."}``, and for validation ``422 {"detail": [{"loc", "msg", "type", ...}]}``;
* platform: ``{"error": "...", "details": ...}``;
* v2: ``{"error": {"message": "...", "code": "INVALID_REQUEST", "status": 400}}``.

Handlers raise :class:`Answer`; the service turns it into the response.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from bot.sandbox.langsmith.wire import Family, norm_uuid

# v2 codes: the reference names INVALID_REQUEST; the others follow its pattern (a guess, in one place).
_V2_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "TIMEOUT",
    410: "GONE",
    429: "RATE_LIMITED",
    500: "INTERNAL",
    502: "BAD_GATEWAY",
    503: "UNAVAILABLE",
    504: "TIMEOUT",
}


class Answer(Exception):
    """Raised inside a handler to answer with ``status`` and ``body`` at once."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(family: Family, status: int, message: str) -> Any:
    """The body of a plain error (auth, limits, unknown route, an injected fault) in ``family``'s shape."""
    if family == "v2":
        return {"error": {"message": message, "code": _V2_CODES.get(status, "ERROR"), "status": status}}
    if family == "platform":
        return {"error": message, "details": None}
    return {"detail": message}


def v2_invalid(message: str) -> Answer:
    """v2's answer to a request it will not run: 400 ``INVALID_REQUEST``."""
    return Answer(400, error_body("v2", 400, message))


def invalid(loc: Sequence[str | int], msg: str, type_: str, input_: Any = None) -> Answer:
    """FastAPI's 422 ``HTTPValidationError`` shape."""
    return Answer(422, {"detail": [{"type": type_, "loc": list(loc), "msg": msg, "input": input_}]})


def refuse_extra_fields(body: dict[str, Any], allowed: Iterable[str]) -> None:
    """FastAPI with ``extra="forbid"``: the first field the schema does not name is a 422."""
    known = set(allowed)
    for name, value in body.items():
        if name not in known:
            raise invalid(["body", name], "Extra inputs are not permitted", "extra_forbidden", value)


def json_object(raw: bytes) -> dict[str, Any]:
    """FastAPI's body parsing: malformed JSON or a non-object is a 422."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError as exc:
        raise Answer(
            422,
            {
                "detail": [
                    {
                        "type": "json_invalid",
                        "loc": ["body", getattr(exc, "pos", 0)],
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": getattr(exc, "msg", str(exc))},
                    }
                ]
            },
        ) from exc
    if not isinstance(body, dict):
        raise invalid(
            ["body"],
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
            body,
        )
    return body


def body_uuid(value: Any, loc: list[str | int]) -> str:
    norm = norm_uuid(value)
    if norm is None:
        raise invalid(loc, "Input should be a valid UUID", "uuid_parsing", value)
    return norm


def query_uuid(value: Any, name: str) -> str:
    return body_uuid(value, ["query", name])


def paging(query: Any) -> tuple[int, int]:
    """``offset`` (≥ 0, default 0) and ``limit`` (1..100, default 100) of an offset-paged GET."""
    values: dict[str, int] = {}
    for name, default, low, high in (("offset", 0, 0, None), ("limit", 100, 1, 100)):
        raw = query.get(name)
        if raw is None:
            values[name] = default
            continue
        try:
            number = int(raw)
        except ValueError:
            raise invalid(["query", name], "Input should be a valid integer", "int_parsing", raw) from None
        if number < low:
            raise invalid(["query", name], f"Input should be greater than or equal to {low}", "greater_than_equal", raw)
        if high is not None and number > high:
            raise invalid(["query", name], f"Input should be less than or equal to {high}", "less_than_equal", raw)
        values[name] = number
    return values["offset"], values["limit"]
