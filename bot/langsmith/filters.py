"""Writing LangSmith's run filter language (the same for v1 and v2: "syntax unchanged")."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Pairs", "metadata_filter", "quote_filter_value"]

Pairs = Sequence[tuple[str, str]]
"""A subject's metadata pairs, in order; the same key may come more than once (``user_id=123 user_id=456``)."""


def quote_filter_value(value: str) -> str:
    """Quote ``value`` as a string literal of LangSmith's filter language, or refuse it.

    The docs show single- and double-quoted literals but say nothing about escapes, so the
    value is wrapped in whichever quote it does not contain; a value holding both quotes, a
    backslash or a control character cannot be written safely and raises ValueError.
    """
    if any(ord(ch) < 32 or ch == "\x7f" for ch in value):
        raise ValueError("contains a control character")
    if "\\" in value:
        raise ValueError("contains a backslash")
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise ValueError("contains both ' and \"")


def metadata_filter(pairs: Pairs) -> str:
    """A run filter matching runs that carry ANY of the metadata pairs (OR, like the delete).

    Every pair is its own term, so two values of one key are both searched.
    """
    distinct = list(dict.fromkeys((str(k), str(v)) for k, v in pairs))
    if not distinct:
        raise ValueError("at least one metadata pair is required")
    terms = [
        f"and(eq(metadata_key, {quote_filter_value(k)}), eq(metadata_value, {quote_filter_value(v)}))"
        for k, v in distinct
    ]
    return terms[0] if len(terms) == 1 else f"or({', '.join(terms)})"
