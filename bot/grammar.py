"""Parse the text of a ``/purge`` slash command into a typed command (DESIGN.md "The slash command").

Pure: no I/O and no clock (``now`` is passed in). Any problem with the input raises
:class:`GrammarError`, whose message is shown to the requester verbatim, so every message names the
offending token, the rule it breaks and how to fix it. Messages contain decoded user text: whoever
posts them to Slack must escape ``& < >`` as for any other text.

Decisions where the contract is silent:

- Slack escapes exactly ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;``; only those are
  decoded. ``html.unescape`` would be wrong: it also decodes ``&quot;``, ``&copy`` … which Slack
  never produces, so it would change text the user typed on purpose whenever the text reaches us
  unescaped (tests; the request form escapes its text first, see "single fields"). Markup
  (``<…>``) is resolved *before* decoding, so a user who typed a literal ``<@U1>`` (sent as
  ``&lt;@U1&gt;``) gets that text, not a mention.
- Quotes: straight, curly and low quotes, double and single, all open a quoted string. A curly or
  low opening quote closes with its curly partner or a straight quote (phones and Macs replace one or
  both); a straight quote closes only with itself, so curly quotes inside ``"…"`` are text. A quote
  opens only at the start of a token or right after its first ``=`` (``name="Ada L"``,
  ``--reason="x"``) and closes only when followed by whitespace or the end, so apostrophes
  (``O'Brien``, ``customer\u2019s``) stay literal.
- An en or em dash before an option counts as ``--``: macOS turns a typed ``--`` into a dash.
- A positional token after the first option is an error, not accepted: it almost always means an
  unquoted multi-word ``--reason``, which must not silently become a trace ID or a pair.
- Request IDs must be written ``PURGE-<n>`` (any case); a bare number is refused with the right form.
- A Slack link stands for what the user typed: ``<http://example.com|example.com>`` (Slack's
  auto-link) gives ``example.com``; any other link gives its URL, and ``<mailto:a@b.c|…>`` the address.
- Mentions are refused as project, trace ID, key, value or ticket; inside ``--reason`` they are kept
  in readable form (``@bob``, ``#general``), since a reason is prose.
- Values (project, keys, metadata values, ticket) with surrounding whitespace, control characters or
  invisible format characters (zero-width space, …) are refused: LangSmith matches exactly, and a
  value that cannot match would make a purge look verified.
- Duplicate trace IDs and pairs are dropped, keeping the first. ``--reason`` is at most 500
  characters; ``--ticket`` one printable word of at most 64. ``list`` accepts ``awaiting-approval``.
- ``help`` ignores anything after it; ``--as-of`` may be any ISO-8601 date or time, naive read as UTC.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.langsmith.filters import quote_filter_value
from bot.states import State

STATES: tuple[str, ...] = tuple(state.value for state in State)
REASON_MAX = 500
TICKET_MAX = 64


class GrammarError(ValueError):
    """The command text is not valid; ``str(error)`` is the complete answer for the user."""


@dataclass(frozen=True, slots=True)
class RequestOptions:
    reason: str
    ticket: str | None
    due: date | None
    workspace: str | None = None  # the one LangSmith workspace to search (None: every configured one)


@dataclass(frozen=True, slots=True)
class TracesRequest:
    project: str
    trace_ids: tuple[str, ...]
    options: RequestOptions


@dataclass(frozen=True, slots=True)
class MetadataRequest:
    pairs: tuple[tuple[str, str], ...]
    options: RequestOptions


@dataclass(frozen=True, slots=True)
class ExamplesRequest:
    pairs: tuple[tuple[str, str], ...]
    as_of: datetime
    options: RequestOptions


@dataclass(frozen=True, slots=True)
class Status:
    request_id: int


@dataclass(frozen=True, slots=True)
class ListRequests:
    state: str | None


@dataclass(frozen=True, slots=True)
class Cancel:
    request_id: int


@dataclass(frozen=True, slots=True)
class Verify:
    request_id: int


@dataclass(frozen=True, slots=True)
class Report:
    request_id: int


@dataclass(frozen=True, slots=True)
class Audit:
    """The event chain's head and whether it is intact (approvers only), as ``purgebot audit verify``."""


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class OpenForm:
    pass


Request = TracesRequest | MetadataRequest | ExamplesRequest
Command = Request | Status | ListRequests | Cancel | Verify | Report | Audit | Help | OpenForm

HELP_TEXT = """\
*/purge* files a compliance purge in LangSmith; a second person approves it in the thread.

*New requests* (--reason is required: a ticket number or a sentence, never personal data, since the \
channel shows it; --ticket, --due YYYY-MM-DD and --workspace NAME are optional):
• `/purge traces my-project 0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f --reason "DSR-1042"`
  deletes traces by ID in one project (name or UUID); separate several IDs by spaces, commas or new lines.
• `/purge metadata user_id=123 email=ada@example.com --reason "DSR-1042" --ticket DSR-1042`
  deletes every trace whose metadata matches, and the dataset examples that carry it.
• `/purge examples user_id=123 --as-of 2026-05-01 --reason "DSR-1042" --due 2026-06-01`
  hard-deletes dataset examples whose metadata matches, in the version at --as-of (default: now) \
and earlier versions.
Several key=value pairs are OR-matched: anything matching any one of them is purged.
Quote values that contain spaces: name="Ada Lovelace". Type values literally, not as @mentions.
A metadata or examples request searches every LangSmith workspace purgebot is configured for, or the one \
--workspace names; a traces request names its workspace with --workspace when there are several.

*Existing requests* (request IDs look like PURGE-7):
• `/purge status PURGE-7`  • `/purge list` or `/purge list awaiting_approval`
• `/purge cancel PURGE-7`  • `/purge verify PURGE-7`  • `/purge report PURGE-7`
• `/purge` with nothing after it opens the request form.
• `/purge audit` (approvers): the event chain's head and whether it is intact.

Slack limits one command or form field to about 3,000 characters (about 80 trace IDs). \
For larger sets, use a metadata request."""

_SUBCOMMANDS = ("traces", "metadata", "examples", "status", "list", "cancel", "verify", "report", "audit", "help")
_BY_ID: dict[str, Callable[[int], Command]] = {
    "status": Status,
    "cancel": Cancel,
    "verify": Verify,
    "report": Report,
}
_OPTIONS = {
    "traces": ("reason", "ticket", "due", "workspace"),
    "metadata": ("reason", "ticket", "due", "workspace"),
    "examples": ("as-of", "reason", "ticket", "due", "workspace"),
}
_OPTION_EXAMPLE = {
    "reason": '--reason "DSR-1042"',
    "ticket": "--ticket DSR-1042",
    "due": "--due 2026-12-31",
    "as-of": "--as-of 2026-05-01T12:00:00Z",
    "workspace": "--workspace prod-eu",
}
# opening quote -> the quotes that close it (U+201C/D/E: curly and low double; U+2018/9: curly single)
_CLOSERS = {
    '"': '"',
    "\u201c": '\u201d"',
    "\u201d": '\u201d"',
    "\u201e": '\u201c\u201d"',
    "'": "'",
    "\u2018": "\u2019'",
    "\u2019": "\u2019'",
}
_DASHES = "-\u2013\u2014"
_ENTITY = re.compile("&(amp|lt|gt);")
_ENTITY_CHAR = {"amp": "&", "lt": "<", "gt": ">"}
_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_ID_SEPARATORS = re.compile(r"[\s,]+")
_KEY_CHAR = re.compile(r"[A-Za-z0-9_.:\-]")
_REQUEST_ID = re.compile(r"purge-([0-9]{1,18})", re.IGNORECASE)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WORKSPACE = re.compile(r"[a-z0-9-]+")
_FORM_MENTION = re.compile(r"<([@#!][^<>]*)>")
_CONTROL = frozenset({"Cc", "Cs", "Zl", "Zp"})  # line breaks, control codes, lone surrogates


@dataclass(frozen=True, slots=True)
class _Token:
    """One word of the command: decoded ``text``, whether it began with a quote, first mention."""

    text: str
    quoted: bool
    mention: str | None

    @property
    def is_option(self) -> bool:
        return not self.quoted and len(self.text) > 1 and self.text[0] in _DASHES


def parse(text: str, *, now: datetime) -> Command:
    """Parse the ``text`` of a ``/purge`` command, as Slack sends it, into a :data:`Command`.

    ``now`` (timezone-aware) is the filing moment: ``--due`` may not lie before ``now.date()`` and
    ``--as-of`` defaults to it. Raises :class:`GrammarError` for every problem with ``text``.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    tokens = _tokenize(text)
    if not tokens:
        return OpenForm()
    name, args = tokens[0].text.lower(), tokens[1:]
    if name == "help":
        return Help()
    if name == "list":
        return ListRequests(_state(args))
    if name == "audit":
        if args:
            raise GrammarError(f"/purge audit takes nothing after it; remove {_show(args[0].text)}.")
        return Audit()
    if name in _BY_ID:
        return _BY_ID[name](_request_id(name, args))
    if name in _OPTIONS:
        return _request(name, args, now)
    close = difflib.get_close_matches(name, _SUBCOMMANDS, n=1)
    hint = f"Did you mean `{close[0]}`?" if close else f"The subcommands are {_join(_SUBCOMMANDS)}."
    raise GrammarError(f"Unknown subcommand {_show(tokens[0].text)}. {hint} Try /purge help.")


# --- single fields of the request form ----------------------------------------------------------
#
# The form asks for each part of a request in its own field and checks each with the rules of the
# command, so both accept exactly the same values. Slack sends form text as typed, unescaped, and a
# plain-text field has no markup: ``&amp;`` is five characters and ``<https://…>`` is text. Only
# mention syntax (``<@U…>``, ``<#C…>``, ``<!here>``) is read as a mention, to be refused where the
# command refuses one (nobody's data is stored under ``<@U123>``) and shown readably in a reason.
# Messages name the field, not the option. Blank optional fields give their default.


def parse_project(text: str) -> str:
    """The whole field as one project name or UUID (surrounding whitespace ignored)."""
    token = _field(_from_form(text.strip()))
    _refuse_mention(token, "project name")
    return _literal(token.text, "project name")


def parse_trace_ids(text: str) -> tuple[str, ...]:
    """Trace IDs separated by spaces, commas or new lines: normalised, duplicates dropped."""
    pieces = _trace_id_pieces(_tokenize(_from_form(text), whole="the field"))
    if not pieces:
        raise GrammarError("Give at least one trace ID: UUIDs separated by spaces, commas or new lines.")
    return _normalised_trace_ids(pieces)


def parse_pairs(text: str, *, kind: str) -> tuple[tuple[str, str], ...]:
    """``key=value`` pairs separated by spaces or new lines, quoted as in the command; deduplicated."""
    tokens = _tokenize(_from_form(text), whole="the field")
    if not tokens:
        raise GrammarError('Give at least one key=value pair, e.g. user_id=123 or name="Ada Lovelace".')
    return _pairs(kind, tokens)


def parse_reason(text: str) -> str:
    """The whole field is the reason: quotes and line breaks are part of it, mentions become readable."""
    return _reason(_field(_from_form(text)), form=True)


def parse_ticket(text: str) -> str | None:
    return _ticket(_field(_from_form(text.strip())), form=True) if text.strip() else None


def parse_due(text: str, *, now: datetime) -> date | None:
    """``YYYY-MM-DD`` (a datepicker's value), not before ``now.date()``."""
    return _due(_Token(text.strip(), False, None), now, form=True) if text.strip() else None


def parse_as_of(text: str, *, now: datetime) -> datetime:
    """Any ISO-8601 date or time, naive read as UTC; ``now`` when blank."""
    return _as_of(_Token(text.strip(), False, None) if text.strip() else None, now, form=True)


def _from_form(text: str) -> str:
    """Form text in the command's encoding: ``& < >`` escaped as Slack escapes them, mention syntax kept."""
    out, i = [], 0
    for match in _FORM_MENTION.finditer(text):
        out.append(_escape(text[i : match.start()]) + "<" + match[1].replace("&", "&amp;") + ">")
        i = match.end()
    out.append(_escape(text[i:]))
    return "".join(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _field(text: str) -> _Token:
    """Encoded text as one token: markup resolved and entities decoded; spaces and quotes kept."""
    pieces: list[str] = []
    mention, i = None, 0
    while (start := text.find("<", i)) != -1 and (end := text.find(">", start)) != -1:
        value, is_mention = _markup(text[start + 1 : end])
        pieces.append(_decode(text[i:start]) + value)
        mention = mention or (value if is_mention else None)
        i = end + 1
    pieces.append(_decode(text[i:]))
    return _Token("".join(pieces), False, mention)


# --- tokenizing --------------------------------------------------------------------------------


def _tokenize(text: str, *, whole: str = "the command") -> list[_Token]:
    """Split Slack's command text into tokens, resolving quotes, markup and entities (module notes)."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        pieces: list[str] = []  # decoded text
        raw: list[str] = []  # literal characters still to be entity-decoded
        closers, opened_at, mention = "", 0, None
        quoted, can_open, seen_equals = text[i] in _CLOSERS, True, False
        while i < n:
            char = text[i]
            if closers:
                if char in closers and (i + 1 == n or text[i + 1].isspace()):
                    closers, i = "", i + 1
                    continue
            elif char.isspace():
                break
            elif can_open and char in _CLOSERS:
                closers, opened_at, can_open, i = _CLOSERS[char], i, False, i + 1
                continue
            end = text.find(">", i) if char == "<" else -1
            if end != -1:
                value, is_mention = _markup(text[i + 1 : end])
                pieces.append(_decode("".join(raw)) + value)
                raw.clear()
                mention = mention or (value if is_mention else None)
                can_open, i = False, end + 1
                continue
            raw.append(char)
            can_open = char == "=" and not seen_equals
            seen_equals = seen_equals or char == "="
            i += 1
        if closers:
            after = _decode(text[opened_at + 1 : opened_at + 31])
            where = f"before {_show(after)}" if after else f"at the end of {whole}"
            raise GrammarError(
                f"The quote {text[opened_at]} {where} is never closed. Add a closing quote "
                f"(it must be followed by a space or the end of {whole})."
            )
        tokens.append(_Token("".join(pieces) + _decode("".join(raw)), quoted, mention))
    return tokens


def _decode(text: str) -> str:
    return _ENTITY.sub(lambda match: _ENTITY_CHAR[match[1]], text)


def _markup(inner: str) -> tuple[str, bool]:
    """Resolve Slack markup ``<target|label>`` to (text, is_mention); mentions come out readable."""
    target, _, label = (_decode(part) for part in inner.partition("|"))
    if target.startswith(("@", "#")):
        return target[0] + (label or target[1:]), True
    if target.startswith("!"):  # <!here>, <!channel>, <!subteam^S1|@team>
        return label or "@" + target[1:].split("^")[-1], True
    if label and any(target == scheme + label for scheme in ("http://", "https://", "mailto:")):
        return label, False
    return target.removeprefix("mailto:"), False


# --- subcommands -------------------------------------------------------------------------------


def _request(kind: str, args: Sequence[_Token], now: datetime) -> Request:
    positional, given = _split_options(kind, args)
    if kind == "traces":
        project, trace_ids = _traces(positional)
        return TracesRequest(project, trace_ids, _request_options(given, now))
    pairs = _pairs(kind, positional)
    if kind == "metadata":
        return MetadataRequest(pairs, _request_options(given, now))
    return ExamplesRequest(pairs, _as_of(given.get("as-of"), now), _request_options(given, now))


def _split_options(kind: str, args: Sequence[_Token]) -> tuple[list[_Token], dict[str, _Token]]:
    """Separate positional tokens from options (``--name value`` or ``--name=value``)."""
    allowed = _OPTIONS[kind]
    positional: list[_Token] = []
    given: dict[str, _Token] = {}
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if not token.is_option:
            if given:
                last = "--" + list(given)[-1]
                raise GrammarError(
                    f"{_show(token.text)} comes after the options, where only options may appear. If it "
                    f'belongs to {last}, quote the whole value: {last} "…". Otherwise move it before '
                    "the first option."
                )
            positional.append(token)
            continue
        name, equals, inline = token.text.lstrip(_DASHES).partition("=")
        name = name.lower()
        if name not in allowed:
            raise _unknown_option(kind, token.text, name)
        if name in given:
            raise GrammarError(f"--{name} is given twice; give it once.")
        if equals:
            given[name] = _Token(inline, False, token.mention)
        elif i < len(args) and not args[i].is_option:
            given[name] = args[i]
            i += 1
        else:
            raise GrammarError(f"--{name} is missing its value, e.g. {_OPTION_EXAMPLE[name]}.")
    return positional, given


def _unknown_option(kind: str, shown: str, name: str) -> GrammarError:
    owners = [other for other, names in _OPTIONS.items() if name in names]
    if owners:
        return GrammarError(f"--{name} only applies to /purge {_join(owners)}, not to /purge {kind}.")
    allowed = ["--" + option for option in _OPTIONS[kind]]
    close = difflib.get_close_matches("--" + name, allowed, n=1, cutoff=0.7)
    hint = f" Did you mean {close[0]}?" if close else ""
    return GrammarError(f"Unknown option {_show(shown)}.{hint} The options of /purge {kind} are {_join(allowed)}.")


def _traces(positional: Sequence[_Token]) -> tuple[str, tuple[str, ...]]:
    if not positional:
        raise GrammarError(
            "/purge traces needs a project and at least one trace ID, e.g. "
            '/purge traces my-project 0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f --reason "DSR-1042".'
        )
    _refuse_mention(positional[0], "project name")
    project = _literal(positional[0].text, "project name")
    pieces = _trace_id_pieces(positional[1:])
    if not pieces:
        hint = ""
        if _TRACE_ID.fullmatch(project):
            hint = f" {_show(project)} was read as the project: give the project (name or UUID) first."
        raise GrammarError(f"/purge traces needs at least one trace ID after the project.{hint}")
    return project, _normalised_trace_ids(pieces)


def _trace_id_pieces(tokens: Sequence[_Token]) -> list[str]:
    pieces: list[str] = []
    for token in tokens:
        _refuse_mention(token, "trace ID")
        pieces.extend(piece for piece in _ID_SEPARATORS.split(token.text) if piece)
    return pieces


def _normalised_trace_ids(pieces: Sequence[str]) -> tuple[str, ...]:
    bad = [piece for piece in pieces if not _TRACE_ID.fullmatch(piece)]
    if bad:
        more = f" ({len(bad) - 1} more are not either)" if len(bad) > 1 else ""
        raise GrammarError(
            f"{_show(bad[0])} is not a trace ID{more}: trace IDs are UUIDs (36 characters with "
            "hyphens, or 32 hex digits), separated by spaces, commas or new lines."
        )
    return tuple(dict.fromkeys(str(uuid.UUID(piece)) for piece in pieces))


def _pairs(kind: str, positional: Sequence[_Token]) -> tuple[tuple[str, str], ...]:
    if not positional:
        raise GrammarError(
            f'/purge {kind} needs at least one key=value pair, e.g. /purge {kind} user_id=123 --reason "DSR-1042".'
        )
    pairs = []
    for token in positional:
        _refuse_mention(token, "metadata value")
        key, equals, value = token.text.partition("=")
        if not equals:
            raise GrammarError(
                f"{_show(token.text)} is not a key=value pair: write key=value with no spaces around =, "
                'e.g. user_id=123, and quote a value that contains spaces: name="Ada Lovelace".'
            )
        if not key:
            raise GrammarError(f"{_show(token.text)} has no key before =: write key=value, e.g. user_id=123.")
        bad = next((char for char in key if not _KEY_CHAR.fullmatch(char)), None)
        if bad is not None:
            raise GrammarError(
                f"The metadata key {_show(key)} contains {_show(bad)} ({_char_name(bad)}): keys may contain "
                "only letters A-Z, digits and _ - . :"
            )
        if not value:
            raise GrammarError(f"The value for {_show(key)} is empty: write {key}=<value>, e.g. {key}=123.")
        pairs.append((key, _searchable(_literal(value, f"{key} value"), key)))
    return tuple(dict.fromkeys(pairs))


def _searchable(value: str, key: str) -> str:
    """``value`` if LangSmith's filter language can carry it exactly, else GrammarError naming the rule.

    The rule is the one the LangSmith client writes filters by (``quote_filter_value``), so nothing
    the grammar accepts can fail later, when the request is already filed: one request that cannot be
    searched must never stop the previews of all the others.
    """
    try:
        quote_filter_value(value)
    except ValueError as problem:
        raise GrammarError(
            f"The {key} value {_show(value)} cannot be searched for exactly: it {problem}. LangSmith's filter "
            "language documents no escapes, so such a value could silently match nothing. Purge those traces "
            "by ID with /purge traces instead."
        ) from None
    return value


def _request_options(given: dict[str, _Token], now: datetime) -> RequestOptions:
    reason, ticket = _reason(given.get("reason")), _ticket(given.get("ticket"))
    return RequestOptions(reason, ticket, _due(given.get("due"), now), parse_workspace(given.get("workspace")))


def parse_workspace(token: _Token | str | None) -> str | None:
    """A workspace name as the workspaces file spells them ([a-z0-9-]+); whether it is configured is the
    workflow's to say, since the grammar knows no configuration."""
    if token is None:
        return None
    text = token if isinstance(token, str) else token.text
    if not text.strip():
        return None
    if not _WORKSPACE.fullmatch(text.strip()):
        raise GrammarError(
            f"The workspace {_show(text)} is not a workspace name: names are lower-case letters, digits and "
            "hyphens, e.g. --workspace prod-eu."
        )
    return text.strip()


def _reason(token: _Token | None, *, form: bool = False) -> str:
    """``form``: word messages for the request form's field instead of the ``--reason`` option."""
    if token is None:
        raise GrammarError(
            '--reason is required for a new request: add --reason "DSR-1042" (a ticket number or a sentence).'
        )
    reason = token.text.strip()
    if not reason:
        if form:
            raise GrammarError("Give a reason: a ticket number or a sentence, e.g. DSR-1042.")
        raise GrammarError('--reason is empty: give a ticket number or a sentence, e.g. --reason "DSR-1042".')
    if len(reason) > REASON_MAX:
        name, ticket = ("The reason", "ticket field") if form else ("--reason", "ticket (--ticket)")
        raise GrammarError(
            f"{name} is {len(reason)} characters long; the limit is {REASON_MAX}. Shorten it and put the "
            f"details in the {ticket}."
        )
    return reason


def _ticket(token: _Token | None, *, form: bool = False) -> str | None:
    if token is None:
        return None
    _refuse_mention(token, "ticket")
    ticket = _literal(token.text, "ticket")
    if " " in ticket:
        example = "DSR-1042" if form else "--ticket DSR-1042"
        raise GrammarError(f"The ticket {_show(ticket)} contains a space: give one ticket ID, e.g. {example}.")
    if len(ticket) > TICKET_MAX:
        raise GrammarError(f"The ticket is {len(ticket)} characters long; the limit is {TICKET_MAX}.")
    return ticket


def _due(token: _Token | None, now: datetime, *, form: bool = False) -> date | None:
    if token is None:
        return None
    name, example = ("The due date", "2026-12-31") if form else ("--due", "--due 2026-12-31")
    if not _DATE.fullmatch(token.text):
        raise GrammarError(f"{name} {_show(token.text)} is not a date: write YYYY-MM-DD, e.g. {example}.")
    try:
        due = date.fromisoformat(token.text)
    except ValueError:
        raise GrammarError(f"{name} {token.text} is not a real date: check the month and the day.") from None
    if due < now.date():
        raise GrammarError(f"{name} {due} is in the past (today is {now.date()}): give today or a later date.")
    return due


def _as_of(token: _Token | None, now: datetime, *, form: bool = False) -> datetime:
    if token is None:
        return now.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(token.text.strip())
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        name, flag = ("The as-of time", "") if form else ("--as-of", "--as-of ")
        raise GrammarError(
            f"{name} {_show(token.text)} is not an ISO-8601 date or time, e.g. {flag}2026-05-01 or "
            f"{flag}2026-05-01T12:00:00Z (without a zone, UTC is assumed)."
        ) from None


def _state(args: Sequence[_Token]) -> str | None:
    if not args:
        return None
    if len(args) > 1:
        raise GrammarError(
            f"/purge list takes at most one state, e.g. /purge list awaiting_approval; remove {_show(args[1].text)}."
        )
    state = args[0].text.lower().replace("-", "_")
    if state not in STATES:
        raise GrammarError(f"Unknown state {_show(args[0].text)}. The states are {_join(STATES)}.")
    return state


def _request_id(name: str, args: Sequence[_Token]) -> int:
    example = f"/purge {name} PURGE-7"
    if not args:
        raise GrammarError(f"/purge {name} needs a request ID, e.g. {example}.")
    if len(args) > 1:
        raise GrammarError(f"/purge {name} takes one request ID; remove {_show(args[1].text)}. Example: {example}.")
    text = args[0].text
    match = _REQUEST_ID.fullmatch(text)
    if match is None:
        hint = f" Did you mean PURGE-{int(text)}?" if re.fullmatch("[0-9]{1,18}", text) else ""
        raise GrammarError(f"{_show(text)} is not a request ID: request IDs look like PURGE-7.{hint}")
    number = int(match[1])
    if number < 1:
        raise GrammarError(f"{_show(text)} is not a request ID: request numbers start at PURGE-1.")
    return number


# --- checks and message helpers ----------------------------------------------------------------


def _refuse_mention(token: _Token, what: str) -> None:
    if token.mention is not None:
        raise GrammarError(
            f"{_show(token.text)} contains the Slack mention {token.mention}: a Slack mention is not "
            f"a {what}; type the literal value (for a Slack user, the user ID itself, e.g. U0123ABCD)."
        )


def _literal(text: str, what: str) -> str:
    """``text`` as an exact value to search for, or GrammarError if it cannot be one."""
    if not text.strip():
        raise GrammarError(f"The {what} is empty.")
    if text != text.strip():
        raise GrammarError(
            f"The {what} {_show(text)} starts or ends with a space; values are matched exactly, so remove it."
        )
    for char in text:
        category = unicodedata.category(char)
        if category in _CONTROL:
            raise GrammarError(
                f"The {what} {_show(text)} contains a control character ({_char_name(char)}); remove it."
            )
        if category == "Cf":
            raise GrammarError(
                f"The {what} {_show(text)} contains an invisible character ({_char_name(char)}), probably "
                "from copy and paste; type the value again."
            )
    return text


def _show(text: str) -> str:
    """Quote user text for a message: shortened, backticks neutralised, invisible characters shown."""
    short = text if len(text) <= 60 else text[:59] + "…"
    visible = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in short)
    return "`" + visible.replace("`", "'") + "`"


def _char_name(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
