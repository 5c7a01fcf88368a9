"""What every listener reads from a payload the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def actor_name(payload: Mapping[str, Any]) -> str | None:
    """The name Slack sent with the person's action: ``user_name`` of a slash command, ``user.name`` (or
    ``user.username``) of a click or a form. It arrives in the signed request, so it is recorded with the
    action for the evidence report, which must not need Slack to say who acted."""
    user = payload.get("user")
    named = payload.get("user_name") or (user.get("name") or user.get("username") if isinstance(user, dict) else None)
    return str(named) if named else None
