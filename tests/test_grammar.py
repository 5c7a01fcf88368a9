"""The /purge grammar of DESIGN.md "The slash command", fed text as Slack sends it."""

# Curly quotes and dashes are the point of several tests here.
# ruff: noqa: RUF001

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.grammar import (
    HELP_TEXT,
    STATES,
    Audit,
    Cancel,
    Command,
    ExamplesRequest,
    GrammarError,
    Help,
    ListRequests,
    MetadataRequest,
    OpenForm,
    Report,
    RequestOptions,
    Status,
    TracesRequest,
    Verify,
    parse,
    parse_pairs,
)
from bot.langsmith import metadata_filter

NOW = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
ID1 = "0c6f3a1e-5b7d-4c2a-9e1f-2d3b4c5d6e7f"
ID2 = "9a8b7c6d-5e4f-4a3b-8c1d-0e9f8a7b6c5d"
ID3 = "11111111-2222-4333-8444-555555555555"
REASON = RequestOptions("DSR-1042", None, None)


def ok(text: str) -> Command:
    return parse(text, now=NOW)


def error(text: str) -> str:
    with pytest.raises(GrammarError) as caught:
        parse(text, now=NOW)
    return str(caught.value)


# --- commands without a request ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", OpenForm()),
        ("   \n ", OpenForm()),
        ("help", Help()),
        ("HELP traces", Help()),
        ("list", ListRequests(None)),
        ("list awaiting_approval", ListRequests("awaiting_approval")),
        ("List Awaiting-Approval", ListRequests("awaiting_approval")),
        ("status PURGE-7", Status(7)),
        ("status purge-7", Status(7)),
        ("STATUS Purge-007", Status(7)),
        ("cancel PURGE-12", Cancel(12)),
        ("verify PURGE-1", Verify(1)),
        ("report purge-999", Report(999)),
        ("audit", Audit()),
        ("AUDIT", Audit()),
    ],
)
def test_simple_commands(text: str, command: Command) -> None:
    assert ok(text) == command


@pytest.mark.parametrize("state", STATES)
def test_every_state_can_be_listed(state: str) -> None:
    assert ok(f"list {state}") == ListRequests(state)


def test_states_are_those_of_the_design() -> None:
    assert set(STATES) == {
        "awaiting_approval",
        "approved",
        "executing",
        "submitted",
        "verified",
        "unverified",
        "rejected",
        "cancelled",
        "expired",
        "failed",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trace p x", "Unknown subcommand `trace`. Did you mean `traces`? Try /purge help."),
        ("nuke", "Unknown subcommand `nuke`. The subcommands are traces, metadata, examples, status,"),
        ("status", "/purge status needs a request ID, e.g. /purge status PURGE-7."),
        ("status 7", "`7` is not a request ID: request IDs look like PURGE-7. Did you mean PURGE-7?"),
        ("cancel #7", "`#7` is not a request ID: request IDs look like PURGE-7."),
        ("verify PURGE-0", "request numbers start at PURGE-1"),
        ("report PURGE-7 PURGE-8", "/purge report takes one request ID; remove `PURGE-8`."),
        ("status PURGE-1234567890123456789", "is not a request ID"),
        ("list foo", "Unknown state `foo`. The states are awaiting_approval, approved, executing,"),
        ("list approved failed", "/purge list takes at most one state"),
        ("audit PURGE-7", "/purge audit takes nothing after it; remove `PURGE-7`."),
        ("audti", "Unknown subcommand `audti`. Did you mean `audit`?"),
    ],
)
def test_simple_command_errors(text: str, message: str) -> None:
    assert message in error(text)


# --- traces --------------------------------------------------------------------------------------


def test_traces_request() -> None:
    assert ok(f'traces my-project {ID1} {ID2} --reason "DSR-1042"') == TracesRequest("my-project", (ID1, ID2), REASON)


def test_trace_ids_are_normalised_and_deduplicated_in_order() -> None:
    upper_hex = ID2.replace("-", "").upper()
    text = f"traces p {ID1.upper()},{upper_hex}, {ID3}\n{ID1}\t{ID2} --reason DSR-1042"
    assert ok(text) == TracesRequest("p", (ID1, ID2, ID3), REASON)


def test_project_name_with_spaces_and_curly_quotes() -> None:
    command = ok(f"traces “Support Bot (prod)” {ID1} --reason “DSR 1042”")
    assert command == TracesRequest("Support Bot (prod)", (ID1,), RequestOptions("DSR 1042", None, None))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"traces p 0c6f-xyz {ID1} --reason x", "`0c6f-xyz` is not a trace ID: trace IDs are UUIDs (36 char"),
        (f"traces p {ID1} bad1,bad2 --reason x", "`bad1` is not a trace ID (1 more are not either)"),
        (f"traces p {{{ID1}}} --reason x", "is not a trace ID"),
        (f"traces p urn:uuid:{ID1} --reason x", "is not a trace ID"),
        ("traces --reason x", "/purge traces needs a project and at least one trace ID"),
        ("traces p --reason x", "/purge traces needs at least one trace ID after the project."),
        (f"traces {ID1} --reason x", f"`{ID1}` was read as the project"),
        (f"traces p {ID1}", '--reason is required for a new request: add --reason "DSR-1042"'),
        (f"traces <@U1|bob> {ID1} --reason x", "a Slack mention is not a project name"),
        ("traces p <#C1|general> --reason x", "a Slack mention is not a trace ID"),
        (f"traces ' p' {ID1} --reason x", "starts or ends with a space"),
    ],
)
def test_traces_errors(text: str, message: str) -> None:
    assert message in error(text)


# --- metadata and examples -------------------------------------------------------------------


def test_metadata_request_with_all_options() -> None:
    text = 'metadata user_id=123 email=ada@example.com --ticket DSR-1042 --due 2026-06-01 --reason "GDPR art. 17"'
    assert ok(text) == MetadataRequest(
        (("user_id", "123"), ("email", "ada@example.com")),
        RequestOptions("GDPR art. 17", "DSR-1042", date(2026, 6, 1)),
    )


def test_pairs_are_deduplicated_and_values_may_hold_spaces_and_equals() -> None:
    text = 'metadata user_id=1 note="a = b" user_id=1 user_id=2 k.v:x-y_z=ok --reason x'
    command = ok(text)
    assert isinstance(command, MetadataRequest)
    assert command.pairs == (("user_id", "1"), ("note", "a = b"), ("user_id", "2"), ("k.v:x-y_z", "ok"))


def test_examples_as_of_defaults_to_now() -> None:
    assert ok("examples user_id=123 --reason DSR-1042") == ExamplesRequest((("user_id", "123"),), NOW, REASON)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2026-05-01", datetime(2026, 5, 1, tzinfo=UTC)),
        ("2026-05-01T12:30:00", datetime(2026, 5, 1, 12, 30, tzinfo=UTC)),
        ("2026-05-01T12:30:00Z", datetime(2026, 5, 1, 12, 30, tzinfo=UTC)),
        ("2026-05-01T14:30:00+02:00", datetime(2026, 5, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_examples_as_of_is_iso_8601_in_utc(as_of: str, expected: datetime) -> None:
    command = ok(f"examples user_id=123 --as-of {as_of} --reason DSR-1042")
    assert isinstance(command, ExamplesRequest)
    assert command.as_of == expected
    assert command.as_of.tzinfo is UTC


def test_as_of_default_is_converted_to_utc() -> None:
    berlin_now = NOW.astimezone(timezone(timedelta(hours=2)))
    command = parse("examples u=1 --reason x", now=berlin_now)
    assert isinstance(command, ExamplesRequest)
    assert command.as_of == NOW
    assert command.as_of.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata --reason x", "/purge metadata needs at least one key=value pair, e.g. /purge metadata u"),
        ("metadata user_id --reason x", "`user_id` is not a key=value pair: write key=value with no spaces"),
        ("metadata user_id = 1 --reason x", "`user_id` is not a key=value pair"),
        ("metadata =1 --reason x", "`=1` has no key before ="),
        ("metadata user_id= --reason x", "The value for `user_id` is empty: write user_id=<value>"),
        ('metadata user_id=" " --reason x', "The user_id value is empty."),
        ('metadata user_id="1 " --reason x', "The user_id value `1 ` starts or ends with a space"),
        ("metadata user/id=1 --reason x", "The metadata key `user/id` contains `/` (U+002F SOLIDUS)"),
        ("metadata üser=1 --reason x", "contains `ü`"),
        ("metadata user_id=1\u200b --reason x", "invisible character (U+200B ZERO WIDTH SPACE)"),
        ('metadata "note=a\u0007b" --reason x', "control character (U+0007"),
        ('metadata "note=a\nb" --reason x', "control character (U+000A"),
        ("examples --reason x", "/purge examples needs at least one key=value pair"),
        ("examples u=1 --as-of yesterday --reason x", "--as-of `yesterday` is not an ISO-8601 date or time"),
        ("examples u=1 --as-of 2026-02-30 --reason x", "is not an ISO-8601 date or time"),
        ("examples u=1 --as-of 0001-01-01T00:00+01:00 --reason x", "is not an ISO-8601 date or time"),
        ("metadata u=1 --as-of 2026-05-01 --reason x", "--as-of only applies to /purge examples, not to"),
    ],
)
def test_pair_errors(text: str, message: str) -> None:
    assert message in error(text)


# --- options ---------------------------------------------------------------------------------


def test_options_in_any_order_and_any_case() -> None:
    expected = MetadataRequest((("u", "1"),), RequestOptions("R", "T-1", date(2026, 5, 2)))
    assert ok("metadata u=1 --due 2026-05-02 --TICKET T-1 --Reason R") == expected
    assert ok("METADATA u=1 --reason=R --ticket=T-1 --due=2026-05-02") == expected


def test_dashes_turned_into_en_or_em_dash_still_mark_options() -> None:
    assert ok("metadata u=1 —reason R –ticket T-1") == MetadataRequest((("u", "1"),), RequestOptions("R", "T-1", None))


def test_quoted_value_that_looks_like_an_option_is_a_value() -> None:
    command = ok('metadata u=1 --reason "--not an option"')
    assert isinstance(command, MetadataRequest)
    assert command.options.reason == "--not an option"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata u=1", '--reason is required for a new request: add --reason "DSR-1042"'),
        ('metadata u=1 --reason ""', "--reason is empty"),
        ("metadata u=1 --reason=", "--reason is empty"),
        ("metadata u=1 --reason", '--reason is missing its value, e.g. --reason "DSR-1042".'),
        ("metadata u=1 --reason --ticket T", "--reason is missing its value"),
        ("metadata u=1 --reason a --reason b", "--reason is given twice; give it once."),
        ("metadata u=1 --reason a --Reason b", "--reason is given twice"),
        ("metadata u=1 --reason x --resaon y", "Unknown option `--resaon`. Did you mean --reason? The"),
        ("metadata u=1 --reason x --force", "Unknown option `--force`. The options of /purge metadata are"),
        (
            "metadata u=1 --reason DSR 1042",
            "`1042` comes after the options, where only options may appear. If it belongs to --reason, "
            'quote the whole value: --reason "…".',
        ),
        ("metadata u=1 --reason x u=2", "`u=2` comes after the options"),
        ("metadata u=1 --reason x --ticket 'A B'", "The ticket `A B` contains a space"),
        ("metadata u=1 --reason x --ticket " + "T" * 65, "The ticket is 65 characters long; the limit is 64"),
        ("metadata u=1 --reason x --ticket <@U1>", "a Slack mention is not a ticket"),
        ("metadata u=1 --reason x --due 2026-5-1", "--due `2026-5-1` is not a date: write YYYY-MM-DD"),
        ("metadata u=1 --reason x --due 20260601", "is not a date: write YYYY-MM-DD"),
        ("metadata u=1 --reason x --due 2026-02-30", "--due 2026-02-30 is not a real date"),
        ("metadata u=1 --reason x --due 2026-05-01", "--due 2026-05-01 is in the past (today is 2026-05-02)"),
    ],
)
def test_option_errors(text: str, message: str) -> None:
    assert message in error(text)


def test_reason_length_limit() -> None:
    assert isinstance(ok(f'metadata u=1 --reason "{"x" * 500}"'), MetadataRequest)
    message = error(f'metadata u=1 --reason "{"x" * 501}"')
    assert "--reason is 501 characters long; the limit is 500." in message


def test_due_today_is_allowed_in_the_callers_zone() -> None:
    tokyo_now = NOW.astimezone(timezone(timedelta(hours=14)))  # already 2026-05-03 there
    command = parse("metadata u=1 --reason x --due 2026-05-03", now=tokyo_now)
    assert isinstance(command, MetadataRequest)
    assert command.options.due == date(2026, 5, 3)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse("help", now=datetime(2026, 5, 2))


# --- text as Slack sends it ------------------------------------------------------------------


def only_pair(text: str) -> tuple[str, str]:
    command = ok(text + " --reason x")
    assert isinstance(command, MetadataRequest)
    assert len(command.pairs) == 1
    return command.pairs[0]


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("metadata company=R&amp;D", ("company", "R&D")),
        ("metadata expr=a&lt;b&gt;c", ("expr", "a<b>c")),
        ("metadata typed=&amp;lt;", ("typed", "&lt;")),  # the user typed "&lt;" literally
        ("metadata q=&quot;x&quot;", ("q", "&quot;x&quot;")),  # not a Slack escape: kept as typed
        ("metadata mention=&lt;@U123&gt;", ("mention", "<@U123>")),  # typed brackets: text, not a mention
        ("metadata email=<mailto:ada@example.com|ada@example.com>", ("email", "ada@example.com")),
        ("metadata email=<mailto:ada@example.com|Ada>", ("email", "ada@example.com")),
        ("metadata site=<http://example.com|example.com>", ("site", "example.com")),
        ("metadata url=<https://x.y/z|label>", ("url", "https://x.y/z")),
        ("metadata url=<https://x.y/z?a=1&amp;b=2>", ("url", "https://x.y/z?a=1&b=2")),
        ('metadata name="Ada Lovelace"', ("name", "Ada Lovelace")),
        ("metadata name=“Ada Lovelace”", ("name", "Ada Lovelace")),
        ('metadata name=“Ada Lovelace"', ("name", "Ada Lovelace")),  # curly opening, straight closing
        ("metadata name=‘Ada Lovelace’", ("name", "Ada Lovelace")),
        ("metadata name='Ada Lovelace'", ("name", "Ada Lovelace")),
        ("metadata name=„Ada Lovelace“", ("name", "Ada Lovelace")),
        ('metadata "name=Ada Lovelace"', ("name", "Ada Lovelace")),
        ("metadata name=O'Brien", ("name", "O'Brien")),  # apostrophe inside a word is literal
        ("metadata name=O’Brien", ("name", "O’Brien")),
        ('metadata note="say “hi” now"', ("note", "say “hi” now")),
        ('metadata note="it\'s"', ("note", "it's")),
        ("metadata\u00a0user_id=1", ("user_id", "1")),  # a pasted no-break space separates
        ('metadata q=say"hi"', ("q", 'say"hi"')),  # a quote inside a word is literal
    ],
)
def test_slack_text_decoding(text: str, pair: tuple[str, str]) -> None:
    assert only_pair(text) == pair


@pytest.mark.parametrize(
    "mention",
    [
        "<@U123>",
        "<@U123|bob>",
        "<@W123|bob>",
        "<#C123|general>",
        "<#C123>",
        "<!here>",
        "<!channel>",
        "<!subteam^S1|@privacy>",
    ],
)
def test_mentions_are_refused_as_values(mention: str) -> None:
    message = error(f"metadata user_id={mention} --reason x")
    assert "a Slack mention is not a metadata value; type the literal value" in message


def test_mentions_in_a_reason_are_kept_readable() -> None:
    command = ok('metadata u=1 --reason "asked by <@U123|bob> in <#C9|privacy>, cc <!here>"')
    assert isinstance(command, MetadataRequest)
    assert command.options.reason == "asked by @bob in #privacy, cc @here"


def test_link_in_a_reason_and_ticket() -> None:
    command = ok("metadata u=1 --reason <https://jira.example.com/browse/DSR-1|DSR-1> --ticket DSR-1")
    assert isinstance(command, MetadataRequest)
    assert command.options.reason == "https://jira.example.com/browse/DSR-1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('metadata u=1 --reason "DSR 1042', 'The quote " before `DSR 1042` is never closed.'),
        ("metadata u=1 --reason “DSR 1042", "The quote “ before `DSR 1042` is never closed."),
        ('metadata u=1 --reason "', 'The quote " at the end of the command is never closed.'),
        ('metadata name="Ada"Lovelace --reason x', "is never closed"),
    ],
)
def test_unterminated_quotes(text: str, message: str) -> None:
    assert message in error(text)


def test_long_tokens_are_shortened_in_messages() -> None:
    message = error("traces p " + "z" * 3000 + " --reason x")
    assert len(message) < 300
    assert "z" * 59 + "…" in message


def test_backticks_and_control_characters_cannot_break_the_message() -> None:
    message = error("traces p a`b\x01 --reason x")
    assert "`a'b\\u0001`" in message


# --- values the filter language cannot carry, and help --------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ('metadata path="C:\\temp" --reason x', "contains a backslash"),
        ('metadata note=\u201cit\'s "both"\u201d --reason x', "contains both ' and \""),
        ("examples a=\\ --reason x", "contains a backslash"),
    ],
)
def test_a_value_the_filter_language_cannot_carry_is_refused_at_parse_time(text: str, rule: str) -> None:
    message = error(text)
    assert rule in message and "cannot be searched for exactly" in message and "/purge traces" in message


@pytest.mark.parametrize("value", ["it's", 'say "hi"', "Zoë 🙂", "a=b", "50% off"])
def test_one_kind_of_quote_is_fine(value: str) -> None:
    quote = "'" if '"' in value else '"'
    command = ok(f"metadata k={quote}{value}{quote} --reason x")
    assert isinstance(command, MetadataRequest) and command.pairs == (("k", value),)


# Quotes of both kinds, backslashes, spaces and "=" in most examples, not once in a thousand.
HOSTILE = st.text(alphabet="ab1\\\"' =é\u201c\u201d\n", min_size=1, max_size=12)


@given(st.one_of(HOSTILE, st.text(min_size=1, max_size=12)))
@settings(database=None)
def test_every_value_the_grammar_accepts_the_client_can_write(value: str) -> None:
    """Nothing filed can fail later, in the previewer, where it would stop every other preview."""
    try:
        pairs = parse_pairs(f"k={value}" if " " not in value else f'k="{value}"', kind="metadata")
    except GrammarError:
        return
    assert metadata_filter(list(pairs))


def test_help_text_covers_the_contract() -> None:
    for needle in [
        "/purge traces",
        "/purge metadata",
        "/purge examples",
        "/purge status PURGE-7",
        "/purge list",
        "/purge cancel PURGE-7",
        "/purge verify PURGE-7",
        "/purge report PURGE-7",
        "/purge audit",
        "OR-matched",
        "PURGE-7",
        "3,000 characters",
        "80 trace IDs",
        "metadata request",
        "--reason",
        "--ticket",
        "--due",
        "--as-of",
    ]:
        assert needle in HELP_TEXT
    assert "<" not in HELP_TEXT and "&" not in HELP_TEXT  # safe to post to Slack as it is
    assert ok("help") == Help()


def test_help_examples_parse() -> None:
    examples = [line.split("`")[1] for line in HELP_TEXT.splitlines() if line.startswith("• `/purge ")]
    assert len(examples) >= 4
    for example in examples:
        parse(example.removeprefix("/purge "), now=NOW)


# --- robustness --------------------------------------------------------------------------------

FRAGMENTS = [
    "traces",
    "metadata",
    "examples",
    "status",
    "list",
    "help",
    "PURGE-7",
    "--reason",
    "--ticket",
    "--due",
    "--as-of",
    "—reason",
    "=",
    "user_id=1",
    ID1,
    ID1.replace("-", ""),
    ",",
    "\n",
    " ",
    '"',
    "“",
    "”",
    "'",
    "’",
    "<",
    ">",
    "|",
    "<@U1|bob>",
    "<!here>",
    "<mailto:a@b.c|a@b.c>",
    "&amp;",
    "&lt;",
    "2026-05-02",
    "2026-02-30",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00+01:00",
    "\x00",
    "\u200b",
    "\ud800",
    "9" * 30,
]


GRAMMAR_SOUP = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5)).map("".join)


@given(st.one_of(st.text(max_size=200), GRAMMAR_SOUP))
@settings(database=None, max_examples=500)
def test_parse_returns_a_command_or_raises_grammar_error(text: str) -> None:
    try:
        parse(text, now=NOW)
    except GrammarError as exc:
        assert str(exc)


@pytest.mark.parametrize(
    "text",
    [
        "traces p " + ",".join([ID1] * 110) + " --reason x",
        "metadata " + "k=" + "v" * 4000 + " --reason x",
        '"' * 4000,
        "<" * 4000,
        "&amp;" * 800,
        "--reason " * 500,
        "\u0000\u202e\U0001f600" * 1300,
    ],
)
def test_large_and_strange_inputs(text: str) -> None:
    with contextlib.suppress(GrammarError):
        parse(text, now=NOW)
