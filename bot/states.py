"""The request state machine of DESIGN.md, as data: who may move a request from where to where.

Every move not listed is refused. The table is checked before a compare-and-set is attempted, and
the compare-and-set itself (``storage.requests.transition``) makes the move atomic.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a request stands."""

    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    EXECUTING = "executing"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"


class Actor(StrEnum):
    """Who or what may cause a move."""

    APPROVER = "approver"  # an eligible approver who is not the requester
    REQUESTER = "requester"
    EXECUTOR = "executor"
    VERIFIER = "verifier"  # a scheduled or manual check
    TIMER = "timer"  # approval TTL


TRANSITIONS: dict[tuple[State, State], Actor] = {
    (State.AWAITING_APPROVAL, State.APPROVED): Actor.APPROVER,
    (State.AWAITING_APPROVAL, State.REJECTED): Actor.APPROVER,
    (State.AWAITING_APPROVAL, State.CANCELLED): Actor.REQUESTER,
    (State.AWAITING_APPROVAL, State.EXPIRED): Actor.TIMER,
    (State.APPROVED, State.EXECUTING): Actor.EXECUTOR,
    (State.EXECUTING, State.SUBMITTED): Actor.EXECUTOR,
    (State.EXECUTING, State.FAILED): Actor.EXECUTOR,
    (State.SUBMITTED, State.VERIFIED): Actor.VERIFIER,
    (State.SUBMITTED, State.UNVERIFIED): Actor.VERIFIER,
    (State.UNVERIFIED, State.VERIFIED): Actor.VERIFIER,
}

FINAL = frozenset({State.VERIFIED, State.REJECTED, State.CANCELLED, State.EXPIRED})
# Where a request comes to rest: the final states, and failed and unverified, which only a manual check
# may still move. Its message is redacted to counts, and its raw values are minimised after retention.
RESTING = FINAL | {State.FAILED, State.UNVERIFIED}
CHECKABLE = frozenset({State.SUBMITTED, State.UNVERIFIED, State.FAILED, State.VERIFIED})  # deletes were sent


def in_words(state: str) -> str:
    """A state as people read it: ``awaiting_approval`` is "awaiting approval"."""
    return state.replace("_", " ")


class TransitionRefused(Exception):
    """The state machine has no such move for that actor."""


def allowed(source: State, target: State, actor: Actor) -> bool:
    """Whether ``actor`` may move a request from ``source`` to ``target``."""
    return TRANSITIONS.get((source, target)) is actor


def require(source: State, target: State, actor: Actor) -> None:
    """Raise ``TransitionRefused`` with a plain sentence when the move is not in the table."""
    if not allowed(source, target, actor):
        raise TransitionRefused(f"a request that is {source} cannot become {target} by the {actor}")


def sources(target: State, actor: Actor) -> list[State]:
    """Every state from which ``actor`` may move a request to ``target`` (the CAS's from-set)."""
    return [source for (source, goal), who in TRANSITIONS.items() if goal is target and who is actor]
