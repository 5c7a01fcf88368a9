"""The request state machine against DESIGN.md's table, written out here independently."""

from __future__ import annotations

import itertools

import pytest

from bot.states import Actor, State, TransitionRefused, allowed, require, sources

# DESIGN.md, "Request states": (from, to, who). The first row (— → awaiting_approval, filing) is
# an insert, not a move.
DESIGN_TABLE = {
    ("awaiting_approval", "approved", "approver"),
    ("awaiting_approval", "rejected", "approver"),
    ("awaiting_approval", "cancelled", "requester"),
    ("awaiting_approval", "expired", "timer"),
    ("approved", "executing", "executor"),
    ("executing", "submitted", "executor"),
    ("executing", "failed", "executor"),
    ("submitted", "verified", "verifier"),
    ("submitted", "unverified", "verifier"),
    ("unverified", "verified", "verifier"),
}
STATES = [
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
]
ACTORS = ["approver", "requester", "executor", "verifier", "timer"]
EVERY_MOVE = list(itertools.product(STATES, STATES, ACTORS))


def test_the_enums_name_exactly_the_design_states_and_actors() -> None:
    assert sorted(State) == sorted(STATES)
    assert sorted(Actor) == sorted(ACTORS)
    assert {value for row in DESIGN_TABLE for value in row[:2]} == set(STATES)


@pytest.mark.parametrize(("source", "target", "actor"), EVERY_MOVE)
def test_allowed_matches_the_design_table(source: str, target: str, actor: str) -> None:
    assert allowed(State(source), State(target), Actor(actor)) is ((source, target, actor) in DESIGN_TABLE)


@pytest.mark.parametrize(("source", "target", "actor"), EVERY_MOVE)
def test_require_refuses_exactly_what_is_not_in_the_table(source: str, target: str, actor: str) -> None:
    if (source, target, actor) in DESIGN_TABLE:
        require(State(source), State(target), Actor(actor))
        return
    with pytest.raises(TransitionRefused) as refused:
        require(State(source), State(target), Actor(actor))
    message = str(refused.value)
    assert "\n" not in message
    assert source in message and target in message and actor in message
    assert "State." not in message and "Actor." not in message  # values, not enum reprs


def test_a_refusal_reads_as_a_sentence() -> None:
    with pytest.raises(TransitionRefused) as refused:
        require(State.AWAITING_APPROVAL, State.APPROVED, Actor.REQUESTER)
    assert str(refused.value) == "a request that is awaiting_approval cannot become approved by the requester"


@pytest.mark.parametrize(("target", "actor"), list(itertools.product(STATES, ACTORS)))
def test_sources_are_the_tables_from_states(target: str, actor: str) -> None:
    expected = {source for source, goal, who in DESIGN_TABLE if goal == target and who == actor}

    found = sources(State(target), Actor(actor))

    assert set(found) == expected
    assert len(found) == len(set(found))


def test_final_states_have_no_way_out() -> None:
    for final in ("verified", "rejected", "cancelled", "expired"):
        assert not any(source == final for source, _, _ in DESIGN_TABLE)
        assert not any(allowed(State(final), State(target), Actor(actor)) for target in STATES for actor in ACTORS)
