"""How a subject's values appear in channel messages: as their key and a masked form.

A purge bot must not spread the data it erases. With ``PURGEBOT_SHOW_VALUES=masked`` (the default)
a channel message shows ``user_id=•••23`` or ``email=a•••@•••.com``: enough for people who know the
request to recognise it, too little to identify anyone. The full values go only to the requester and
the approvers, ephemerally (the request message's *Show values* button).
"""

from __future__ import annotations

__all__ = ["MASK", "mask"]

MASK = "•••"


def mask(value: str) -> str:
    """``a•••@•••.com`` for an e-mail address; otherwise the last two characters after the mask
    (nothing at all of a value of three characters or fewer beyond its last two)."""
    local, at, domain = value.partition("@")
    if at and local and "." in domain:
        return f"{local[0]}{MASK}@{MASK}.{domain.rsplit('.', 1)[1]}"
    return MASK + value[-2:] if len(value) > 2 else MASK
