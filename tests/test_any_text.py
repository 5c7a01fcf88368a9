"""Whatever someone types after ``/purge``, purgebot answers it over real HTTP: fast, 200, and in words.

Hypothesis builds command text out of what people (and Slack) actually put there — words and
symbols, straight and curly quotes, mentions and links as Slack escapes them, every kind of
unicode, 4,000-character pastes, strings that mean something to HTTP or to Slack, and text that
starts like a real subcommand — and sends it as a signed slash command to the running app. Each
answer is checked: HTTP 200 within Slack's three seconds, then either a request being filed (and
then really filed, or refused in words) or a clear answer; never a 404, a 500, an empty body or
markup echoed back that Slack would turn into a mention. Filed requests stay; later examples run
beside them, and at the end nothing is stuck or failed in the outbox.
"""
# ruff: noqa: RUF001 - look-alike characters are the point of these strategies

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FAST
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.clock import SandboxClock
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.slack_user import Delivered, SlackUser
from bot.sandbox.world import (
    ALICE,
    APPROVER_GROUP,
    BOB,
    CAROL,
    DAVE,
    LANGSMITH_KEY,
    REQUESTS_CHANNEL,
    World,
    running_world,
)
from storage import outbox

ACK_BUDGET = 3.0  # Slack gives up on an ack after three seconds
OUTCOME_WAIT = 5.0
PEOPLE = (ALICE, BOB, CAROL, DAVE)
ROOMY = 1000  # LangSmith query calls per 10 s, for both sides; see the ``world`` fixture below


@pytest.fixture
def world(tmp_path: Path, clock: SandboxClock) -> Iterator[World]:
    """The usual world, with LangSmith's query rate raised on both sides.

    Every subject request filed here searches the workspace; at the documented 15 queries per
    10 s the previews of a few dozen of them would outlast the test. Rate limits are not what this
    file is about (tests/test_ratelimit.py is).
    """
    langsmith = FakeLangSmith(api_key=LANGSMITH_KEY, query_limit=(ROOMY, 10.0))
    with running_world(
        tmp_path / "purgebot.db",
        clock=clock,
        tuning=FAST,
        langsmith=langsmith,
        purgebot_langsmith_query_rate=f"{ROOMY}/10s",
    ) as running:
        yield running


def examples(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --------------------------------------------------------------------------- what people type

KNOWN_TRACES = [str(uuid.UUID(int=0x0C6F3A1E5B7D4C2A9E1F000000000000 + n)) for n in range(8)]

WORDS = st.sampled_from(
    [
        "traces", "metadata", "examples", "status", "list", "cancel", "verify", "report", "help",
        "TRACES", "trace", "prod-chat", "prod-chta", "--reason", "--ticket", "--due", "--as-of",
        "—reason", "–ticket", "-reason", "--", "-", "user_id=123", "email=ada@example.com", "user_id=",
        "=123", "k=v", "a=b=c", "DSR-1042", "PURGE-1", "purge-2", "PURGE-0", "PURGE-", "PURGE-x",
        "purge-999999999999999999", "PURGE-99999999999999999999999", "7", "2026-12-31", "2026-13-45",
        "1999-01-01", "2026-05-01T12:00:00Z", "yesterday", "awaiting_approval", "awaiting-approval",
        "submitted", "O'Brien", "customer’s", "Ada Lovelace", "null", "None", "undefined", "true",
        "0c6f-xyz", *KNOWN_TRACES[:3], KNOWN_TRACES[0].replace("-", "").upper(), "DROP TABLE requests;--",
        "'; DELETE FROM requests; --", "${HOME}", "$(id)", "{{7*7}}", "%s%s%n", "../../etc/passwd",
    ]
)  # fmt: skip
SYMBOLS = st.sampled_from(
    [
        "=", '"', "'", "“", "”", "„", "‘", "’", "«", "»", ",", ";", ":", "|", "\\", "`", "```", "*", "_",
        "~", "&", "&amp;", "&lt;", "&gt;", "&amp;lt;", "&quot;", "&#39;", "&copy", "<", ">", "<>", "<|>",
        "%", "%00", "%0d%0a", "%26", "+", "?", "#", "&payload=", "&payload={}", "\r\n", "\r", "\n", "\t",
        "command=/other", "&command=/other", "token=", "&token=xoxb-1", "trigger_id=", "user_id=U0BOB",
        "&user_id=U0BOB", "response_url=http://evil.example/", "ssl_check=1", "type=url_verification",
        "challenge=x",
    ]
)  # fmt: skip
SLACK_ID = st.from_regex(r"[UWC][0-9A-Z]{2,10}", fullmatch=True)
MARKUP = st.one_of(
    st.sampled_from(
        [
            "<@U0BOB>", "<@U0BOB|bob>", "<@U0ALICE>", "<#C0PRIVACY|privacy-requests>", "<#C0PRIVACY>",
            "<!here>", "<!channel>", "<!everyone>", "<!subteam^S0PRIVACY|@privacy-approvers>",
            "<!date^1392734382^{date}|Feb 18>", "<https://example.com>", "<https://example.com|example.com>",
            "<http://example.com|example.com>", "<https://evil.example/?a=1&amp;b=2|click me>",
            "<mailto:ada@example.com|ada@example.com>", "<mailto:ada@example.com>", "<tel:+15551234|call>",
            "user_id=<@U0BOB>", "email=<mailto:ada@example.com|ada@example.com>", "&lt;@U0BOB&gt;",
            "&lt;!channel&gt;", "<", "<@", "<@U0BOB", "<https://unterminated", "<<@U0BOB>>",
        ]
    ),
    st.builds(lambda i: f"<@{i}>", SLACK_ID),
    st.builds(lambda i, n: f"<@{i}|{n}>", SLACK_ID, st.text(max_size=8)),
    st.builds(lambda i, n: f"<#{i}|{n}>", SLACK_ID, st.text(max_size=8)),
    st.builds(lambda path, label: f"<https://example.com/{path}|{label}>", st.text(max_size=10), st.text(max_size=10)),
)  # fmt: skip
UNICODE = st.one_of(
    st.sampled_from(
        [
            "🧹", "👩🏽‍💻", "🏳️‍🌈", "שלום", "مرحبا", "user_id=שלום", "\u202eevil\u202c", "\u200f", "e\u0301",
            "a\u0300\u0301\u0302\u0303", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "\x00", "user_id=a\x00b", "\x07", "\x1b[31m",
            "\x7f", "\u0085", "\u200b", "user_id=\u200b123", "\ufeff", "\u2028", "\u2029", "\ufffd", "\uffff",
            "𝕦𝕤𝕖𝕣", "ｕｓｅｒ＿ｉｄ＝１２３", "İstanbul", "ß", "ﬁ", "\U0010ffff", "字", "한국어",
        ]
    ),
    st.text(st.characters(codec="utf-8"), max_size=12)  # anything Slack can send: no lone surrogates,
)  # fmt: skip
TOKEN = st.one_of(WORDS, WORDS, SYMBOLS, MARKUP, UNICODE)
SEPARATOR = st.sampled_from([" ", " ", " ", "", "  ", "\n", "\t", ", ", "\u00a0", "\u3000"])


@st.composite
def mixed_text(draw: st.DrawFn, max_tokens: int = 14) -> str:
    tokens = draw(st.lists(TOKEN, min_size=1, max_size=max_tokens))
    return "".join(token + draw(SEPARATOR) for token in tokens).rstrip(" ")


PREFIXES = st.sampled_from(
    [
        "traces prod-chat ", "traces prod-chat " + KNOWN_TRACES[0] + " ", "traces prod-chta ",
        "traces " + str(uuid.UUID(int=7)) + " ", "metadata k=v ", "metadata user_id=123 ", "metadata ",
        "examples user_id=", "examples user_id=123 --as-of ", "status PURGE-", "status ", "cancel PURGE-",
        "verify PURGE-", "report PURGE-", "list ", "help ", "Traces PROD-CHAT ", "  traces  prod-chat\n",
    ]
)  # fmt: skip


@st.composite
def reason(draw: st.DrawFn) -> str:
    """A ``--reason`` that may be well-formed or not, with anything inside it."""
    inner = draw(mixed_text(max_tokens=6))
    quote = draw(st.sampled_from(['"', "“", "'", "‘", ""]))
    closer = {"“": "”", "‘": "’"}.get(quote, quote)
    return f"--reason {quote}{inner}{closer}"


@st.composite
def well_formed(draw: st.DrawFn) -> str:
    """A request shaped the way the grammar wants it, with noise in the free-text parts."""
    kind = draw(st.sampled_from(["traces", "traces", "metadata", "examples"]))
    if kind == "traces":
        ids = draw(st.lists(st.sampled_from(KNOWN_TRACES), min_size=1, max_size=4))
        head = f"traces prod-chat {' '.join(ids)}"
    else:
        value = draw(st.one_of(st.sampled_from(["123", "ada@example.com", "O'Brien"]), st.text(max_size=8)))
        head = f'{kind} user_id="{value}"'
    extras = draw(st.lists(st.sampled_from(["--ticket DSR-1042", "--due 2099-12-31", "--ticket ✨"]), max_size=2))
    return " ".join([head, draw(reason()), *extras])


@st.composite
def pasted_4000(draw: st.DrawFn) -> str:
    """What a paste into the command box can be: up to 4,000 characters."""
    shape = draw(st.sampled_from(["repeat", "ids", "reason"]))
    if shape == "ids":
        ids = [str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))) for _ in range(104)]
        return f"traces prod-chat {' '.join(ids)} --reason DSR-4000"[:4000]
    unit = draw(st.one_of(TOKEN, st.just("a"), st.just("🧹")))
    if shape == "reason":
        return (f'metadata user_id=123 --reason "{unit * 4000}')[:3998] + '"'
    prefix = draw(st.one_of(st.just(""), PREFIXES))
    return (prefix + (unit + " ") * 4000)[:4000]


# --------------------------------------------------------------------------- what must come back

_MARKUP_IN_ANSWER = re.compile(r"<[^<>]*>")
_ALLOWED_MARKUP = re.compile(rf"<@(?:{'|'.join(PEOPLE)})>|<!subteam\^{APPROVER_GROUP}>")


def foreign_markup(text: str) -> list[str]:
    """Slack markup in our output that purgebot did not mean: user text that was not escaped."""
    return [m for m in _MARKUP_IN_ANSWER.findall(text) if not _ALLOWED_MARKUP.fullmatch(m)]


@dataclass
class Outcome:
    kind: str  # "filed", "refused after the ack", "answered", "answered after the ack", "form"
    text: str


def request_count(world: World) -> int:
    assert world.bot is not None
    return int(world.bot.store.db.execute("SELECT count(*) FROM requests").fetchone()[0])


def send(world: World, text: str) -> Outcome:
    """Send ``text`` as Alice's ``/purge`` and check the answer; what it came to."""
    assert world.people is not None
    before = request_count(world)
    delivered = world.people.alice.slash(text, channel_id=REQUESTS_CHANNEL)

    assert delivered.status == 200, (text, delivered.status, delivered.body)
    assert delivered.elapsed < ACK_BUDGET, (text, delivered.elapsed)
    answer = delivered.text
    assert "Traceback" not in answer and "Exception" not in answer, answer
    assert not foreign_markup(answer), (text, answer)
    if answer == "":
        return _opened_form(world, text, delivered)
    if answer.startswith(("Filing a purge", "Filing a subject purge")):
        return _filed_or_refused(world, text, delivered, before)
    if answer.endswith("…"):  # a question or an action on a request ("Looking up PURGE-7…"): answered next
        assert delivered.response_url is not None
        answer = world.slack.answer_to(delivered.response_url, timeout=OUTCOME_WAIT)
        assert answer.strip() and "Traceback" not in answer and not foreign_markup(answer), (text, answer)
        assert request_count(world) == before, (text, answer)
        return Outcome("answered after the ack", answer)
    assert request_count(world) == before, (text, answer)
    return Outcome("answered", answer)


def _opened_form(world: World, text: str, delivered: Delivered) -> Outcome:
    """An empty ack is right only for a bare ``/purge``: the request form opens instead."""
    assert text.strip() == "" or not text.split(), (text, "empty ack")

    def opened(_: object) -> bool:
        return any(c.params.get("trigger_id") == delivered.trigger_id for c in world.slack.calls("views.open"))

    world.slack.wait_for(opened, OUTCOME_WAIT)
    return Outcome("form", "")


def _filed_or_refused(world: World, text: str, delivered: Delivered, before: int) -> Outcome:
    """A "Filing…" ack must come to something: a stored request, or a refusal in words."""
    response_id = (delivered.response_url or "").rsplit("/", 1)[-1]

    def refusal() -> str | None:
        posts = [r for r in world.slack.responses() if r.response_id == response_id]
        return str(posts[-1].payload.get("text") or "") if posts else None

    def came_to_something(_: object) -> bool:
        return request_count(world) > before or refusal() is not None

    came_to_something.__name__ = f"filing {text[:60]!r} came to something"
    world.slack.wait_for(came_to_something, OUTCOME_WAIT)
    refused = refusal()
    if refused is not None:
        assert refused.strip() and "Nothing was filed" in refused, (text, refused)
        assert not foreign_markup(refused), (text, refused)
        assert request_count(world) == before
        return Outcome("refused after the ack", refused)
    assert request_count(world) == before + 1, text
    return Outcome("filed", "")


def after_everything(world: World) -> None:
    """Filed requests did not jam anything: the outbox drains, nothing failed, nothing unescaped."""
    assert world.bot is not None
    store = world.bot.store

    def previewed(_: object) -> bool:
        waiting = store.db.execute("SELECT count(*) FROM requests WHERE preview IS NULL").fetchone()[0]
        return waiting == 0 and outbox.pending_count(store.db) == 0

    world.slack.wait_for(previewed, 15.0)
    failed = store.db.execute("SELECT request_id, error FROM outbox WHERE state = ?", [outbox.FAILED]).fetchall()
    assert failed == [], failed
    for message in world.slack.messages(REQUESTS_CHANNEL):
        assert not foreign_markup(message.render()), message.render()
    for ephemeral in world.slack.ephemerals(ALICE):
        assert not foreign_markup(ephemeral.text), ephemeral.text


def with_prod_chat(world: World) -> None:
    project = world.langsmith.add_project("prod-chat")
    for trace in KNOWN_TRACES:
        world.langsmith.add_trace(project, trace_id=trace, metadata={"user_id": "123"})


# --------------------------------------------------------------------------- the properties


def test_any_mixture_of_words_symbols_markup_and_unicode_is_answered(world: World) -> None:
    with_prod_chat(world)
    seen: set[str] = set()

    @examples(110)
    @given(text=mixed_text())
    @example(text="&payload=")  # Bolt took any form mentioning "payload" for a click: 404
    @example(text="metadata payload_id=7 --reason DSR-1")
    def answered(text: str) -> None:
        seen.add(send(world, text).kind)

    answered()
    after_everything(world)
    assert "answered" in seen


def test_text_shaped_like_a_subcommand_is_answered(world: World) -> None:
    with_prod_chat(world)
    seen: set[str] = set()

    @examples(80)
    @given(prefix=PREFIXES, tail=mixed_text(max_tokens=8))
    @example(prefix="status PURGE-", tail="1")  # well-formed: answered after the ack, through response_url
    @example(prefix="cancel PURGE-", tail="99 ")
    def answered(prefix: str, tail: str) -> None:
        seen.add(send(world, prefix + tail).kind)

    answered()
    after_everything(world)
    assert {"answered", "answered after the ack"} <= seen


def test_well_formed_requests_with_anything_in_the_free_text_are_filed_or_refused_in_words(world: World) -> None:
    with_prod_chat(world)
    seen: set[str] = set()

    @examples(50)
    @given(text=well_formed())
    def answered(text: str) -> None:
        seen.add(send(world, text).kind)

    answered()
    after_everything(world)
    assert "filed" in seen, seen  # some of them really became requests


def test_a_4000_character_paste_is_answered(world: World) -> None:
    with_prod_chat(world)

    @examples(20)
    @given(text=pasted_4000())
    def answered(text: str) -> None:
        assert len(text) <= 4000
        send(world, text)

    answered()
    after_everything(world)


def test_a_command_that_says_payload_is_still_a_command(world: World) -> None:
    """Regression: Bolt parsed any form body containing "payload" as an interactivity payload."""
    assert world.people is not None
    with_prod_chat(world)
    world.slack.add_user("U0PAYLOAD", "payload-bot-fan")
    world.slack.add_channel("C0PAYLOAD", "payload-team", members=[ALICE, "U0PAYLOAD"])
    fan = SlackUser(world.delivery, "U0PAYLOAD")

    in_text = send(world, f'traces prod-chat {KNOWN_TRACES[5]} --reason "remove the payload"')
    in_channel_name = world.people.alice.slash("help", channel_id="C0PAYLOAD")
    in_user_name = fan.ask("status PURGE-1", channel_id="C0PAYLOAD")

    assert in_text.kind == "filed"
    assert in_channel_name.status == 200 and "/purge* files a compliance purge" in in_channel_name.text
    assert in_user_name.startswith("PURGE-1: ")
