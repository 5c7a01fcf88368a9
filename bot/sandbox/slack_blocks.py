"""Block Kit as the Slack stand-in sees it: what Slack refuses in ``blocks``, and how a client shows them.

Split from :mod:`bot.sandbox.slack_server`, which refuses a post whose ``blocks`` have errors here
(``invalid_blocks``, with Slack's own wording and JSON pointers), and renders what it stores with
:func:`render_blocks` for tests and the demo transcript. The limits are Slack's (reference/slack.md §7).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

JSON = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
MAX_BUTTON_VALUE = 2000
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
_KNOWN_BLOCKS = frozenset(
    {
        "actions", "context", "context_actions", "divider", "file", "header", "image", "input",
        "markdown", "rich_text", "section", "table", "video",
    }
)  # fmt: skip


def blocks_errors(blocks: list[Any]) -> list[str]:
    """Slack's error messages for a ``blocks`` argument (empty: it would accept them)."""
    errors = [] if len(blocks) <= MAX_BLOCKS else [f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"]
    for i, block in enumerate(blocks):
        errors += _block_errors(block, f"/blocks/{i}")
    return errors


def _text_object_errors(obj: Any, pointer: str, limit: int) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"must be a text object [json-pointer:{pointer}]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{pointer}/text]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]"]
    return [f"malformed date token {token} [json-pointer:{pointer}/text]" for token in date_token_errors(text)]


def _element_errors(element: Any, pointer: str) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [f"missing required field: type [json-pointer:{pointer}]"]
    errors: list[str] = []
    action_id = element.get("action_id")
    if action_id is not None and len(str(action_id)) > MAX_ACTION_ID:
        errors.append(f"must be less than {MAX_ACTION_ID + 1} characters [json-pointer:{pointer}/action_id]")
    if element["type"] == "button":
        text = element.get("text")
        if isinstance(text, dict) and text.get("type") != "plain_text":
            errors.append(f"must be plain_text [json-pointer:{pointer}/text]")
        errors += _text_object_errors(text, f"{pointer}/text", MAX_BUTTON_TEXT)
        value = element.get("value")
        if value is not None and len(str(value)) > MAX_BUTTON_VALUE:
            errors.append(f"must be less than {MAX_BUTTON_VALUE + 1} characters [json-pointer:{pointer}/value]")
        if element.get("style") not in (None, "primary", "danger"):
            errors.append(f"must be one of primary, danger [json-pointer:{pointer}/style]")
    return errors


def _block_errors(block: Any, pointer: str) -> list[str]:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return [f"missing required field: type [json-pointer:{pointer}]"]
    kind = block["type"]
    if kind not in _KNOWN_BLOCKS:
        return [f"unsupported type: {kind} [json-pointer:{pointer}/type]"]
    errors: list[str] = []
    if len(str(block.get("block_id") or "")) > MAX_BLOCK_ID:
        errors.append(f"must be less than {MAX_BLOCK_ID + 1} characters [json-pointer:{pointer}/block_id]")
    if kind == "section":
        if block.get("text") is None and not block.get("fields"):
            errors.append(f"must provide either text or fields [json-pointer:{pointer}]")
        if block.get("text") is not None:
            errors += _text_object_errors(block["text"], f"{pointer}/text", MAX_SECTION_TEXT)
        fields = block.get("fields") or []
        if len(fields) > MAX_SECTION_FIELDS:
            errors.append(f"no more than {MAX_SECTION_FIELDS} items allowed [json-pointer:{pointer}/fields]")
        for i, item in enumerate(fields):
            errors += _text_object_errors(item, f"{pointer}/fields/{i}", MAX_FIELD_TEXT)
        if block.get("accessory") is not None:
            errors += _element_errors(block["accessory"], f"{pointer}/accessory")
    elif kind == "header":
        errors += _text_object_errors(block.get("text"), f"{pointer}/text", MAX_HEADER_TEXT)
    elif kind in ("actions", "context"):
        elements = block.get("elements")
        limit = MAX_ACTIONS_ELEMENTS if kind == "actions" else MAX_CONTEXT_ELEMENTS
        if not isinstance(elements, list) or not elements:
            errors.append(f"must provide at least 1 item [json-pointer:{pointer}/elements]")
        elif len(elements) > limit:
            errors.append(f"no more than {limit} items allowed [json-pointer:{pointer}/elements]")
        elif kind == "actions":
            for i, element in enumerate(elements):
                errors += _element_errors(element, f"{pointer}/elements/{i}")
    return errors


# --------------------------------------------------------------------------- rendering


def _plain(obj: Any) -> str:
    """The text of a text object or rich-text element; anything else renders as empty."""
    if isinstance(obj, dict):
        text = obj.get("text")
        if not isinstance(text, str):
            return ""
        return readable(text) if obj.get("type") == "mrkdwn" else text
    return ""


DATE_TOKEN = re.compile(r"<!date\^(?P<ts>\d+)\^(?P<format>[^|^>]+)(?:\^(?P<link>[^|>]+))?\|(?P<fallback>[^>]+)>")


def readable(text: str) -> str:
    """``<!date^…|fallback>`` as its fallback: the time as the configured zone gives it, deterministic
    where a Slack client would show the reader's own zone."""
    return DATE_TOKEN.sub(lambda match: match["fallback"], text)


def date_token_errors(text: str) -> list[str]:
    """Malformed ``<!date`` tokens: Slack shows them raw, so the stand-in refuses them outright."""
    return [token for token in re.findall(r"<!date[^>]*>", text) if not DATE_TOKEN.fullmatch(token)]


def _render_inline(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    if kind == "text":
        return str(element.get("text", ""))
    if kind == "link":
        return str(element.get("text") or element.get("url", ""))
    if kind == "user":
        return f"<@{element.get('user_id')}>"
    if kind == "usergroup":
        return f"<!subteam^{element.get('usergroup_id')}>"
    if kind == "channel":
        return f"<#{element.get('channel_id')}>"
    if kind == "emoji":
        return f":{element.get('name')}:"
    if kind == "broadcast":
        return f"@{element.get('range')}"
    if kind == "date":
        return str(element.get("fallback", element.get("timestamp", "")))
    return ""


def _render_rich_text(element: Mapping[str, Any], indent: str = "") -> list[str]:
    kind = element.get("type")
    inner = [e for e in element.get("elements", []) if isinstance(e, dict)]
    if kind == "rich_text_section":
        return [indent + "".join(_render_inline(e) for e in inner)]
    if kind == "rich_text_preformatted":
        return ["```", *"".join(_render_inline(e) for e in inner).splitlines(), "```"]
    if kind == "rich_text_quote":
        return ["> " + line for line in "".join(_render_inline(e) for e in inner).splitlines()]
    if kind == "rich_text_list":
        ordered = element.get("style") == "ordered"
        pad = indent + "  " * int(element.get("indent", 0))
        lines: list[str] = []
        for n, item in enumerate(inner, start=1):
            bullet = f"{n}. " if ordered else "• "
            rendered = _render_rich_text(item)
            lines += [pad + bullet + rendered[0], *(pad + "  " + rest for rest in rendered[1:])]
        return lines
    return []


def _render_element(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    if kind == "button":
        return f"[{_plain(element.get('text'))}]"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind in ("plain_text", "mrkdwn"):
        return _plain(element)
    label = _plain(element.get("placeholder")) or str(kind)
    return f"[{label} ▾]"


def render_blocks(blocks: Iterable[Mapping[str, Any]]) -> str:
    """Plain-text Block Kit, as a person would read it: for the demo transcript and assertions.

    Buttons render as ``[Label]``, selects as ``[placeholder ▾]``, dividers as ``---``; mrkdwn is
    left as written, but for ``<!date^…>`` times, which show their fallback (:func:`readable`).
    """
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"# {_plain(block.get('text'))}")
        elif kind == "section":
            text = _plain(block.get("text"))
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") != "image":
                text = f"{text} {_render_element(accessory)}".strip()
            lines += [text] if text else []
            lines += [_plain(f) for f in block.get("fields") or []]
        elif kind == "context":
            lines.append(" | ".join(_render_element(e) for e in block.get("elements", []) if isinstance(e, dict)))
        elif kind == "actions":
            lines.append(" ".join(_render_element(e) for e in block.get("elements", []) if isinstance(e, dict)))
        elif kind == "divider":
            lines.append("---")
        elif kind == "rich_text":
            for element in block.get("elements", []):
                if isinstance(element, dict):
                    lines += _render_rich_text(element)
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "input":
            element = block.get("element") or {}
            lines.append(f"{_plain(block.get('label'))}: [{_plain(element.get('placeholder'))}]")
        elif kind == "markdown":
            lines.append(str(block.get("text", "")))
        else:
            lines.append(f"[{kind}]")
    return "\n".join(lines)
