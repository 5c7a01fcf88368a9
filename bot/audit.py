"""``/purge audit``: the event chain's head and whether it is intact, told to an approver in Slack.

It is the same walk as ``purgebot audit verify`` (``storage.events.verify_chain``), so the head an
approver reads in Slack is the one the command line prints and ``--expect`` takes.
"""

from __future__ import annotations

from sqlite_utils import Database

from storage import events


def chain_report(db: Database) -> str:
    """One answer: intact with its head, empty, or broken at the first bad event."""
    check = events.verify_chain(db)
    if not check.intact:
        return (
            f"The event chain is *broken* at event {check.first_bad}: an event was edited, removed or reordered "
            f"there (intact up to `{check.head_seq}:{check.head_hash}`). `purgebot audit verify` on the server "
            "says the same; compare with your last backup."
        )
    if check.head_seq == 0:
        return "The event chain is intact and empty: nothing has been recorded yet."
    head = f"{check.head_seq}:{check.head_hash}"
    return (
        f"The event chain is intact: {check.head_seq:,} events, head `{head}`. "
        f"`purgebot audit verify --expect {head}` proves later that the log still holds this head."
    )
