"""Answering the person who acted, whether or not the request was acknowledged yet."""

from __future__ import annotations

from slack_bolt import Ack, Respond


def answer(ack: Ack, respond: Respond, text: str) -> None:
    """Put ``text`` in the ack if it has not been sent, else send it ephemerally through ``response_url``."""
    if ack.response is None:
        ack(text=text)
    else:
        respond(text=text, response_type="ephemeral", replace_original=False)
