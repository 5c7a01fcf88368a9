"""The demo's transcript: a person's step prints whole before anything the bot posts meanwhile."""

from __future__ import annotations

import io
import threading

import pytest

from bot.sandbox.transcript import Transcript
from bot.sandbox.world import ALICE, REQUESTS_CHANNEL


def test_a_message_posted_while_a_person_acts_prints_after_their_line_and_ack() -> None:
    out = io.StringIO()
    transcript = Transcript(out)
    poster = threading.Thread(target=transcript.bot, args=("#privacy-requests purgebot:", "posted meanwhile"))

    with transcript.step(ALICE, REQUESTS_CHANNEL, "/purge status PURGE-1"):
        poster.start()
        poster.join(0.2)
        assert poster.is_alive()  # held until the step is printed whole
        transcript.say("  the ack")
    poster.join(5)

    assert out.getvalue().splitlines() == [
        "",
        "#privacy-requests  alice: /purge status PURGE-1",
        "  the ack",
        "  #privacy-requests purgebot:",
        "      posted meanwhile",
    ]


def test_wait_shown_returns_once_a_later_message_says_it_and_times_out_otherwise() -> None:
    transcript = Transcript(io.StringIO())
    transcript.bot("#privacy-requests purgebot:", "You filed PURGE-1")
    since = transcript.mark()
    threading.Thread(target=transcript.bot, args=("#privacy-requests purgebot:", "You filed PURGE-2")).start()

    transcript.wait_shown("You filed PURGE-2", since=since, timeout=5)
    with pytest.raises(TimeoutError, match="PURGE-1"):
        transcript.wait_shown("You filed PURGE-1", since=since, timeout=0.05)
