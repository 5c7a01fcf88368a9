"""What a listener stores with its claim before the ack: the work the ack promised, as plain data.

Every slash command, click, form submission and home-tab opening that needs more than parsing is
stored with its claim (``storage.interactions``) as one of these, acknowledged, and then done by
:mod:`bot.deferred` — right after the ack in one process, or in ``purgebot serve``'s worker process.
A job holds what Slack sent, never anything derived from the database, so doing it later sees the
state as it is then. Jobs are JSON in the ``interactions`` table; a stored click from before kinds
existed has no ``kind`` and reads as a :class:`Click`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Click:
    """An Approve or Reject click."""

    request_id: int
    preview_digest: str
    user: str
    approve: bool
    response_url: str | None = None  # None: clicked on the home tab, which is answered by publishing it again
    name: str | None = None  # the clicker's name as Slack sent it (clicks stored before this have none)


@dataclass(frozen=True)
class SlashCommand:
    """A ``/purge`` that parsed: its text is parsed again, with the same ``received_at``, when it is done."""

    text: str
    user: str
    channel: str
    trigger_id: str
    response_url: str
    received_at: str  # ISO time the command arrived: "due in 30 days" and --as-of count from it
    name: str | None = None


@dataclass(frozen=True)
class FormSubmission:
    """The request form's Submit, its fields already checked: what is read again from them when it is done."""

    private_metadata: str
    values: dict[str, Any]  # the view's ``state.values``
    user: str
    trigger_id: str
    received_at: str
    name: str | None = None

    @property
    def view(self) -> dict[str, Any]:
        """The parts of the submitted view that ``bot.form`` reads back."""
        return {"private_metadata": self.private_metadata, "state": {"values": self.values}}


@dataclass(frozen=True)
class ShowValues:
    """A *Show values* click: the answer holds the subject's values, so it is never stored, only sent."""

    request_id: int
    user: str
    response_url: str | None


@dataclass(frozen=True)
class HomeOpened:
    """The app's home tab was opened: publish it for ``user``."""

    user: str


Job = Click | SlashCommand | FormSubmission | ShowValues | HomeOpened

_KINDS: dict[str, type[Job]] = {
    "click": Click,
    "command": SlashCommand,
    "form": FormSubmission,
    "show_values": ShowValues,
    "home": HomeOpened,
}
_NAMES = {kind: name for name, kind in _KINDS.items()}


def encode(job: Job) -> dict[str, Any]:
    """The job as stored: its fields and its ``kind``."""
    return {"kind": _NAMES[type(job)], **dataclasses.asdict(job)}


def decode(stored: dict[str, Any]) -> Job:
    """The job ``encode`` stored (``TypeError`` or ``KeyError`` when the row is not one)."""
    fields = {name: value for name, value in stored.items() if name != "kind"}
    return _KINDS[str(stored.get("kind", "click"))](**fields)
