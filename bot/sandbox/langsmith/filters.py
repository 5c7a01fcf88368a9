"""LangSmith's run filter language (the subset a purge needs), parsed once and compiled to a predicate.

v1 ``runs/query`` and v2 ``runs/query`` share it ("syntax unchanged", reference §2): ``filter``
tests each run, ``trace_filter`` the trace's root run and ``tree_filter`` any run of the trace.
A filter outside the subset is refused (:class:`FilterError`) rather than half-understood.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from bot.sandbox.langsmith.model import Run


class FilterError(ValueError):
    """The filter string is not valid in the supported subset of LangSmith's filter language."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<punct>[(),\[\]])
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/"}
_COMPARATORS = {"eq", "neq", "in", "has"}
_RUN_FIELDS = {"metadata_key", "metadata_value", "id", "trace_id", "name", "run_type", "session_id"}
_HAS_FIELDS = {"metadata", "tags"}
_META_FIELDS = {"metadata_key", "metadata_value"}

# AST: ("and"|"or", [nodes]) | ("not", node) | ("cmp", op, field, value: str | tuple[str, ...])
FilterNode = tuple[Any, ...]


def _unescape(literal: str) -> str:
    body = literal[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"unexpected character at position {pos}: {text[pos : pos + 10]!r}")
        kind = m.lastgroup or ""
        raw = m.group(kind)
        tokens.append((kind, _unescape(raw) if kind == "string" else raw))
        pos = m.end()
    return tokens


def parse_filter(text: str) -> FilterNode:
    """Parse the subset ``eq, neq, in, has, and, or, not`` of LangSmith's run filter language.

    Fields: ``metadata_key``, ``metadata_value``, ``id``, ``trace_id``, ``name``, ``run_type``,
    ``session_id``; ``has`` takes ``metadata`` (a JSON object, containment) or ``tags``.  String
    literals use single or double quotes with backslash escapes; ``in`` takes a ``[...]`` list.
    Anything else raises :class:`FilterError` (LangSmith answers 400).
    """
    tokens = _tokenize(text)
    if not tokens:
        raise FilterError("empty filter")
    pos = 0

    def peek() -> tuple[str, str]:
        return tokens[pos] if pos < len(tokens) else ("end", "")

    def take(kind: str, value: str | None = None) -> str:
        nonlocal pos
        k, v = peek()
        if k != kind or (value is not None and v != value):
            want = value or kind
            raise FilterError(f"expected {want!r} at token {pos}, got {v or k!r}")
        pos += 1
        return v

    def literal() -> str | tuple[str, ...]:
        k, v = peek()
        if k in ("string", "number"):
            take(k)
            return v
        if (k, v) == ("punct", "["):
            take("punct", "[")
            items: list[str] = []
            while peek() != ("punct", "]"):
                kk, vv = peek()
                if kk not in ("string", "number"):
                    raise FilterError(f"expected a string in list, got {vv or kk!r}")
                take(kk)
                items.append(vv)
                if peek() == ("punct", ","):
                    take("punct", ",")
                elif peek() != ("punct", "]"):
                    raise FilterError("expected ',' or ']' in list")
            take("punct", "]")
            return tuple(items)
        raise FilterError(f"expected a value, got {v or k!r}")

    def expr() -> FilterNode:
        fn = take("ident").lower()
        take("punct", "(")
        if fn in ("and", "or"):
            parts = [expr()]
            while peek() == ("punct", ","):
                take("punct", ",")
                parts.append(expr())
            take("punct", ")")
            return (fn, parts)
        if fn == "not":
            inner = expr()
            take("punct", ")")
            return ("not", inner)
        if fn not in _COMPARATORS:
            raise FilterError(f"unsupported function {fn!r}")
        field = take("ident").lower()
        allowed = _HAS_FIELDS if fn == "has" else _RUN_FIELDS
        if field not in allowed:
            raise FilterError(f"unsupported field {field!r} for {fn}")
        take("punct", ",")
        value = literal()
        take("punct", ")")
        if fn == "in" and not isinstance(value, tuple):
            raise FilterError("in() takes a [...] list")
        if fn != "in" and isinstance(value, tuple):
            raise FilterError(f"{fn}() takes a single value")
        if fn == "has" and field == "metadata":
            try:
                parsed = json.loads(str(value))
            except ValueError as exc:
                raise FilterError("has(metadata, ...) takes a JSON object") from exc
            if not isinstance(parsed, dict):
                raise FilterError("has(metadata, ...) takes a JSON object")
        return ("cmp", fn, field, value)

    node = expr()
    if pos != len(tokens):
        raise FilterError(f"unexpected trailing input at token {pos}")
    return node


def _uses_metadata_entry(node: FilterNode) -> bool:
    if node[0] in ("and", "or"):
        return any(_uses_metadata_entry(n) for n in node[1])
    if node[0] == "not":
        return _uses_metadata_entry(node[1])
    return bool(node[2] in _META_FIELDS)


_Pred = Callable[[Run, "tuple[str, str] | None"], bool]


def _compile(node: FilterNode) -> _Pred:
    """Turn the AST into nested closures once per query instead of walking it per run."""
    kind = node[0]
    if kind in ("and", "or"):
        parts = [_compile(n) for n in node[1]]
        if kind == "and":
            return lambda run, entry: all(p(run, entry) for p in parts)
        return lambda run, entry: any(p(run, entry) for p in parts)
    if kind == "not":
        inner = _compile(node[1])
        return lambda run, entry: not inner(run, entry)
    _, op, field, value = node
    if op == "has":
        wanted: dict[str, Any] = json.loads(value) if field == "metadata" else {}

        def has(run: Run, entry: tuple[str, str] | None) -> bool:
            meta = run.metadata
            if field == "tags" or not meta:
                return False  # the stand-in's runs carry no tags
            return all(k in meta and meta[k] == v for k, v in wanted.items())

        return has

    def get(run: Run, entry: tuple[str, str] | None) -> str | None:
        if field == "metadata_key":
            return None if entry is None else entry[0]
        if field == "metadata_value":
            return None if entry is None else entry[1]
        return str(getattr(run, field) or "")

    if op == "eq":
        return lambda run, entry: (a := get(run, entry)) is not None and a == value
    if op == "neq":
        return lambda run, entry: (a := get(run, entry)) is not None and a != value
    members = frozenset(value)
    return lambda run, entry: (a := get(run, entry)) is not None and a in members


def compile_filter(node: FilterNode) -> Callable[[Run], bool]:
    """A predicate over runs.  Metadata atoms bind to ONE metadata entry of the run.

    ``and(eq(metadata_key, "user_id"), eq(metadata_value, "123"))`` is true when a single entry
    has that key *and* that value, which is how LangSmith documents the pair filter; atoms on
    other fields see the run itself.  A run without metadata fails every metadata atom.
    """
    pred = _compile(node)
    if not _uses_metadata_entry(node):
        return lambda run: pred(run, None)

    def matches(run: Run) -> bool:
        meta = run.metadata
        if not meta:
            return pred(run, None)
        return any(pred(run, (k, v if isinstance(v, str) else json.dumps(v))) for k, v in meta.items())

    return matches
