"""Pagination, one function per cursor style LangSmith uses (as the official SDK has one class each)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bot.langsmith.errors import UnexpectedResponse

__all__ = ["MAX_PAGES", "OFFSET_PAGE_SIZE", "cursor_pages", "offset_pages"]

MAX_PAGES = 100_000  # a guard against a server that hands back cursors forever
OFFSET_PAGE_SIZE = 100  # maximum limit of GET sessions / datasets / examples

Page = tuple[list[dict[str, Any]], str | None]


def cursor_pages(
    post: Callable[[dict[str, Any]], Any],
    body: Mapping[str, Any],
    read: Callable[[Any], Page],
    *,
    what: str,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of a POST query paged by an opaque cursor sent back as ``cursor``.

    ``read`` takes a page's body apart into (items, next cursor); a cursor seen twice or an endless
    run of them is an :class:`UnexpectedResponse`, never a silent loop.
    """
    payload = dict(body)
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        items, cursor = read(post(payload))
        yield items
        if not items or not cursor:
            return
        if cursor in seen:
            raise UnexpectedResponse(f"{what} returned the same cursor twice")
        seen.add(cursor)
        payload = {**payload, "cursor": cursor}
    raise UnexpectedResponse(f"{what} kept returning cursors")


def offset_pages(get: Callable[[dict[str, Any]], Any], params: Mapping[str, Any], *, what: str) -> Iterator[Any]:
    """Every item of a GET list paged by ``limit``/``offset``, 100 at a time (a bare JSON array each)."""
    offset = 0
    while True:
        page = get({**params, "limit": OFFSET_PAGE_SIZE, "offset": offset})
        if not isinstance(page, list):
            raise UnexpectedResponse(f"GET {what} did not return a list")
        yield from page
        if len(page) < OFFSET_PAGE_SIZE:
            return
        offset += len(page)
