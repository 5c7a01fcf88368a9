"""One request over two LangSmith workspaces (US and EU), each a stand-in with its own key.

A subject is searched, deleted and checked in both; a request is verified only when both pass, and
a workspace that does not answer holds only its own part.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import FAST
from e2e import WAIT, file_traces, jump_to_next_check, request_message, state, thread, wait_state, wait_thread
from test_request_form import open_form, submit, values
from test_subject_purge import file_subject

from bot import report
from bot.clock import SandboxClock
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.world import REQUESTS_CHANNEL, World, running_world
from storage import batches, items

SUBJECT = {"user_id": "123"}
UTC = ZoneInfo("UTC")


@pytest.fixture
def two(tmp_path: Path, clock: SandboxClock) -> Iterator[World]:
    """purgebot configured with the workspaces prod-us and prod-eu, each a stand-in with its own key."""
    workspaces = {"prod-us": FakeLangSmith(api_key="lsv2_us_key"), "prod-eu": FakeLangSmith(api_key="lsv2_eu_key")}
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=FAST, workspaces=workspaces) as running:
        yield running


def fakes(world: World) -> tuple[FakeLangSmith, FakeLangSmith]:
    assert world.bot is not None
    us = world.langsmith
    (eu,) = [fake for fake in world.fakes.values() if fake is not us]
    return us, eu


def deleted(fake: FakeLangSmith) -> set[str]:
    return {trace for call in fake.calls_to("runs/delete") for trace in call.body.get("trace_ids") or []}


def subject_in_both(world: World) -> tuple[list[str], list[str], str]:
    us, eu = fakes(world)
    in_us = us.add_traces(us.add_project("chat-us"), 3, metadata=SUBJECT)
    us.add_traces(us.add_project("other-us"), 2, metadata={"user_id": "456"})
    in_eu = eu.add_traces(eu.add_project("chat-eu"), 2, metadata=SUBJECT)
    example = eu.add_example(eu.add_dataset("golden-eu"), inputs={"q": "hi"}, metadata=SUBJECT)
    return in_us, in_eu, example


def test_one_subject_is_previewed_deleted_and_verified_in_each_workspace(two: World, clock: SandboxClock) -> None:
    assert two.people is not None and two.bot is not None
    us, eu = fakes(two)
    in_us, in_eu, example = subject_in_both(two)

    ack = two.people.alice.slash("metadata user_id=123 --reason DSR-1", channel_id=REQUESTS_CHANNEL).body
    assert "across workspaces prod-us, prod-eu: searching LangSmith" in ack
    root = request_message(two)
    shown = root.render()
    assert "the search covers workspaces prod-us, prod-eu" in shown
    assert "5 traces in 2 projects and 1 dataset example in 1 dataset" in shown
    assert "By workspace: prod-us 3 traces, 0 examples · prod-eu 2 traces, 1 example" in shown
    assert "`prod-eu/chat-eu` 2" in shown and "`prod-us/chat-us` 3" in shown

    status = two.people.alice.ask("status PURGE-1", channel_id=REQUESTS_CHANNEL)
    assert "Workspaces: prod-us, prod-eu" in status

    two.people.bob.click(root, "Approve")
    wait_state(two, "submitted")
    assert deleted(us) == set(in_us) and deleted(eu) == set(in_eu)  # each only its own, with its own key
    assert all(call.status == 202 for fake in (us, eu) for call in fake.calls_to("runs/delete"))
    assert {b.workspace for b in batches.for_request(two.bot.store.db, 1) if b.kind == batches.METADATA} == {
        "prod-us",
        "prod-eu",
    }
    assert items.per_workspace(two.bot.store.db, 1, items.EXAMPLE) == {"prod-eu": 1}
    emptied = eu.example(example)
    assert emptied is not None and not any(emptied.get(f) for f in ("inputs", "outputs", "metadata"))  # hard-deleted

    two.settle(lambda db: True)  # the examples' check at submit has run: the next one is the traces'
    us.run_weekend()  # the EU's weekend job has not run yet
    jump_to_next_check(two, clock)
    wait_thread(two, root, "prod-eu: 2 of 2 traces still present")
    assert state(two) == "submitted"
    assert any("prod-us: 0 of 3 traces remain" in text for text in thread(two, root))
    assert not any("prod-us: 0 of 0 examples" in text for text in thread(two, root))  # it sent none

    eu.run_weekend()
    jump_to_next_check(two, clock)  # the examples' 7-day check comes first
    wait_thread(two, root, "Next scheduled check: Mon 14 Dec 2026")
    jump_to_next_check(two, clock)
    wait_state(two, "verified")
    wait_thread(two, root, "PURGE-1 verified")
    verdict = next(text for text in thread(two, root) if "verified" in text)
    assert "prod-us: 0 of 3 traces remain" in verdict and "prod-eu: 0 of 2 traces remain" in verdict

    evidence = report.build(two.bot.store.db, 1, now=clock.now())
    assert evidence["request"]["workspaces"] == ["prod-us", "prod-eu"]
    assert {b["workspace"] for b in evidence["batches"]} == {"prod-us", "prod-eu"}
    first = next(c for c in evidence["checks"] if c["kind"] == "scheduled" and c["target"] == "traces")
    assert first["by_workspace"] == {
        "prod-us": {"traces": {"checked": 3, "remaining": 0}},
        "prod-eu": {"traces": {"checked": 2, "remaining": 2}},
    }
    page = report.markdown(evidence, UTC)
    assert "| Workspaces | prod-us, prod-eu" in page and "| call | kind | workspace | round |" in page
    assert f"- check {first['id']}: prod-us traces 0 of 3 remaining; prod-eu traces 2 of 2 remaining" in page


def test_a_workspace_that_does_not_answer_holds_only_its_own_deletes(two: World) -> None:
    assert two.people is not None
    us, eu = fakes(two)
    in_us, _, _ = subject_in_both(two)
    file_subject(two, "metadata user_id=123 --reason DSR-2")
    root = request_message(two)
    eu.inject("runs/delete", status=503, times=10_000, body={"detail": "Service Unavailable"})

    two.people.bob.click(root, "Approve")

    wait_thread(two, root, "LangSmith is not answering the prod-eu part of the deletes of PURGE-1")
    assert deleted(us) == set(in_us)  # the US part went out
    assert state(two) == "executing"
    eu.clear_faults()


def test_a_traces_request_names_its_workspace_when_there_are_several(two: World) -> None:
    assert two.people is not None
    us, eu = fakes(two)
    ids = eu.add_traces(eu.add_project("chat-eu"), 2)

    unnamed = two.people.alice.slash(f"traces chat-eu {ids[0]} --reason DSR-3", channel_id=REQUESTS_CHANNEL)
    two.slack.wait_for(lambda s: bool(s.ephemerals("U0ALICE")), timeout=WAIT)
    unknown = file_traces(two, ids, project="chat-eu", extra="--workspace prod-apac")
    two.slack.wait_for(lambda s: len(s.ephemerals("U0ALICE")) >= 2, timeout=WAIT)
    told = [e.text for e in two.slack.ephemerals("U0ALICE")]

    assert unnamed.status == 200 and unknown is not None
    assert "add --workspace prod-us or --workspace prod-eu" in told[0]
    assert "There is no workspace `prod-apac`: the workspaces are prod-us, prod-eu" in told[1]

    file_traces(two, ids, project="chat-eu", extra="--workspace prod-eu")
    root = request_message(two)
    assert "in project `chat-eu` of workspace prod-eu" in root.render()
    assert "LangSmith knows 2 of all 2 IDs" in root.render()
    assert us.calls_to("sessions") == []  # the US workspace was never asked


def test_a_check_is_no_verdict_until_every_workspace_answers(two: World, clock: SandboxClock) -> None:
    assert two.people is not None
    us, eu = fakes(two)
    subject_in_both(two)
    file_subject(two, "metadata user_id=123 --workspace prod-us --reason DSR-4")
    narrowed = request_message(two, 1).render()
    assert "covers workspace prod-us:" in narrowed and "3 traces in 1 project and 0 dataset examples" in narrowed
    file_subject(two, "metadata user_id=123 --reason DSR-4")
    root = request_message(two, 2)
    two.people.bob.click(root, "Approve")
    wait_state(two, "submitted", 2)
    two.settle(lambda db: True)  # the examples' check at submit has run: the next one is the traces'
    us.run_weekend()
    eu.run_weekend()
    eu.inject("runs/query", status=503, times=10_000, body={"detail": "Service Unavailable"})

    jump_to_next_check(two, clock, 2)

    wait_thread(two, root, "PURGE-2 cannot be verified yet: in workspace prod-eu, LangSmith")
    assert state(two, 2) == "submitted"
    eu.clear_faults()


def test_the_form_offers_the_workspaces_and_a_trace_purge_must_pick_one(two: World) -> None:
    _, eu = fakes(two)
    ids = eu.add_traces(eu.add_project("chat-eu"), 2)
    view = open_form(two)
    assert "workspace" in [b["block_id"] for b in view.view["blocks"] if b["type"] == "input"]
    good = values("traces", project="chat-eu", trace_ids=" ".join(ids), reason="DSR-5")

    refused = submit(two, view, good)
    picked = {"workspace": {"workspace": {"type": "static_select", "selected_option": {"value": "prod-eu"}}}}
    accepted = submit(two, view, good | picked)

    assert refused["errors"] == {"workspace": "A trace purge is in one workspace: choose it."}
    assert accepted is None
    assert "of workspace prod-eu" in request_message(two).render()


def test_a_workspace_that_refuses_the_search_says_so_and_how_to_go_on(two: World) -> None:
    _, eu = fakes(two)
    subject_in_both(two)
    eu.inject("sessions", status=403, times=10_000, body={"error": "Forbidden"})

    file_subject(two, "metadata user_id=123 --reason DSR-6")

    wait_preview = "LangSmith refused the search (403: Forbidden) in workspace prod-eu"
    two.slack.wait_for(
        lambda s: any(wait_preview in m.render() for m in s.messages(REQUESTS_CHANNEL) if not m.is_reply), timeout=WAIT
    )
    root = next(m for m in two.slack.messages(REQUESTS_CHANNEL) if not m.is_reply)
    assert "To purge prod-us meanwhile, file a request for each with --workspace" in root.render()
    assert "[Approve]" not in root.render()  # nothing is approvable without the whole preview
    eu.clear_faults()
