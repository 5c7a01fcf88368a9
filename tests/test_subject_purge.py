"""Subject purges (`/purge metadata`, `/purge examples`) against a realistic workspace, over real HTTP."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FAST
from e2e import ephemeral_texts, jump_to_next_check, request_message, state, wait_ephemeral, wait_state, wait_thread

from bot.clock import SandboxClock
from bot.sandbox.langsmith import FakeLangSmith
from bot.sandbox.world import BOB, CAROL, LANGSMITH_KEY, NOTIFY_CHANNEL, REQUESTS_CHANNEL, World, running_world
from storage import batches, checks, events, items

SUBJECT = {"user_id": "123"}
EMAIL = {"email": "ada@example.com"}


@dataclasses.dataclass
class Workspace:
    """What the stand-in holds for the subject, so tests can compare with what was deleted."""

    by_user_id: set[str]  # traces carrying user_id=123 (on the root or only on a child run)
    by_email: set[str]  # traces carrying email=ada@example.com
    others: set[str]
    examples_by_user_id: set[str]  # including one kept only in dataset history
    examples_by_email: set[str]
    other_examples: set[str]
    history_only: str

    @property
    def traces(self) -> set[str]:
        return self.by_user_id | self.by_email

    @property
    def examples(self) -> set[str]:
        return self.examples_by_user_id | self.examples_by_email


def seed(langsmith: FakeLangSmith) -> Workspace:
    """Three projects and two datasets; the subject's pairs sit on roots, on child runs only, and in
    an example that was removed from its dataset's latest version but is kept in history."""
    prod = langsmith.add_project("prod-chat")
    support = langsmith.add_project("support-bot")
    langsmith.add_project("eval-runs")
    on_root = langsmith.add_traces(prod, 30, metadata=SUBJECT)
    on_child = langsmith.add_traces(prod, 10, metadata={"user_id": "999"}, child_metadata=[SUBJECT])
    by_email = langsmith.add_traces(support, 5, metadata=EMAIL)
    others = langsmith.add_traces(prod, 50, metadata={"user_id": "456"}) + langsmith.add_traces(support, 20)
    golden = langsmith.add_dataset("golden")
    regressions = langsmith.add_dataset("regressions")
    earlier = datetime.now(UTC) - timedelta(days=30)
    by_user_id = {
        langsmith.add_example(golden, inputs={"q": f"q{n}"}, outputs={"a": "x"}, metadata=SUBJECT, created_at=earlier)
        for n in range(4)
    }
    mail = langsmith.add_example(regressions, inputs={"q": "mail"}, metadata=EMAIL, created_at=earlier)
    history_only = langsmith.add_example(regressions, inputs={"q": "old"}, metadata=SUBJECT, created_at=earlier)
    langsmith.remove_example_from_latest(history_only, at=earlier + timedelta(days=1))
    other = langsmith.add_example(golden, inputs={"q": "other"}, metadata={"user_id": "456"}, created_at=earlier)
    return Workspace(
        set(on_root + on_child), set(by_email), set(others), by_user_id | {history_only}, {mail}, {other}, history_only
    )


def file_subject(world: World, text: str) -> None:
    assert world.people is not None
    delivered = world.people.alice.slash(text, channel_id=REQUESTS_CHANNEL)
    assert delivered.status == 200 and "Filing a subject purge" in delivered.body, delivered.body


def deleted_traces(world: World) -> list[str]:
    return [
        trace
        for call in world.langsmith.calls_to("runs/delete")
        if call.body.get("trace_ids")
        for trace in call.body["trace_ids"]
    ]


def hard_deleted_examples(world: World) -> list[str]:
    return [example for call in world.langsmith.calls_to("examples/delete") for example in call.body["example_ids"]]


def test_a_metadata_purge_finds_deletes_and_verifies_traces_and_examples_everywhere(
    world: World, clock: SandboxClock
) -> None:
    assert world.people is not None and world.bot is not None
    seeded = datetime.now(UTC)
    workspace = seed(world.langsmith)

    file_subject(world, 'metadata user_id=123 email=ada@example.com --reason "DSR-1042" --ticket DSR-1042')
    root = request_message(world)
    preview = root.render()
    assert "45 traces in 2 projects and 6 dataset examples in 2 datasets" in preview
    assert "`prod-chat` 40" in preview and "`support-bot` 5" in preview
    assert "`golden` 4" in preview and "`regressions` 2" in preview
    # Masked in the channel (PURGEBOT_SHOW_VALUES=masked), in full only to those who may see them:
    assert "`user_id` = `•••23` OR `email` = `a•••@•••.com`" in preview and "OR-matched" in preview
    assert "ada@example.com" not in preview and "= `123`" not in preview and "For example" not in preview
    world.people.bob.click(root, "Show values")
    wait_ephemeral(world, BOB, "Searched for: `user_id` = `123` OR `email` = `ada@example.com`")
    world.people.carol.click(root, "Show values")
    wait_ephemeral(world, CAROL, "Only the requester of PURGE-1 and the approvers may see its values.")
    assert "ada@example.com" not in " ".join(ephemeral_texts(world, CAROL))

    prod = world.langsmith.project_id("prod-chat")
    late = set(world.langsmith.add_traces(prod, 3, metadata=SUBJECT))  # the subject is still active
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    assert set(deleted_traces(world)) == workspace.traces | late
    assert len(deleted_traces(world)) == len(workspace.traces | late)
    assert set(hard_deleted_examples(world)) == workspace.examples
    (by_metadata,) = [call.body for call in world.langsmith.calls_to("runs/delete") if "metadata" in call.body]
    assert by_metadata["metadata"] == {"user_id": "123", "email": "ada@example.com"}
    # The newest spec asks for start_time: a day before the earliest trace the search saw.
    from_ = datetime.fromisoformat(by_metadata["start_time"].replace("Z", "+00:00"))
    assert abs(from_ - (seeded - timedelta(days=1))) < timedelta(minutes=1)
    wait_thread(world, root, "Found 3 traces of this subject that appeared after the preview")
    for example in workspace.examples:
        assert all(v["inputs"] is None and v["metadata"] is None for v in world.langsmith.example_versions(example))
    for example in workspace.other_examples:
        assert world.langsmith.example(example) is not None
        assert world.langsmith.example(example)["inputs"] == {"q": "other"}
    wait_thread(world, root, "0 of 6 examples remain")
    assert state(world) == "submitted"

    world.langsmith.run_weekend()
    world.langsmith.add_traces(prod, 2, metadata=SUBJECT)  # and keeps using the product after the purge
    jump_to_next_check(world, clock)
    wait_state(world, "verified")
    wait_thread(world, root, "0 of 48 traces remain (2 new traces of this subject since the request, not part of it)")
    assert all(world.langsmith.trace_exists(trace) for trace in workspace.others)
    world.slack.wait_for(lambda s: any("PURGE-1 verified" in m.text for m in s.messages(NOTIFY_CHANNEL)), timeout=10)
    notices = " ".join(m.render() for m in world.slack.messages(NOTIFY_CHANNEL))
    assert "user_id" not in notices and "`123`" not in notices and "ada@example.com" not in notices
    kinds = [e.kind for e in events.for_request(world.bot.store.db, 1)]
    assert {"previewed", "approved", "searched_again", "batch_sent", "submitted", "checked", "verified"} <= set(kinds)
    recorded = [text for e in events.for_request(world.bot.store.db, 1) for text in _strings(e.data)]
    assert recorded and not [text for text in recorded if text == "123" or "ada@example.com" in text]


@pytest.fixture
def refusing_world(tmp_path: Path, clock: SandboxClock) -> Iterator[World]:
    """A workspace where LangSmith's delete by metadata is not enabled (403)."""
    langsmith = FakeLangSmith(api_key=LANGSMITH_KEY, metadata_delete_enabled=False)
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=FAST, langsmith=langsmith) as running:
        yield running


def test_a_refused_metadata_delete_is_noted_and_the_purge_goes_on_by_id(refusing_world: World) -> None:
    world = refusing_world
    assert world.people is not None and world.bot is not None
    workspace = seed(world.langsmith)

    file_subject(world, "metadata user_id=123 --reason DSR-7")
    root = request_message(world)
    world.people.bob.click(root, "Approve")
    wait_state(world, "submitted")

    wait_thread(world, root, "refused the optional workspace-wide delete by metadata (403: bulk run deletes")
    assert sorted(deleted_traces(world)) == sorted(workspace.by_user_id)
    assert set(hard_deleted_examples(world)) == workspace.examples_by_user_id
    refused = [b for b in batches.for_request(world.bot.store.db, 1) if b.kind == batches.METADATA]
    assert [(b.state, b.status_code) for b in refused] == [("refused", 403)]


def test_pairs_are_or_matched_and_nothing_else_goes(world: World) -> None:
    assert world.people is not None
    prod = world.langsmith.add_project("prod-chat")
    both = world.langsmith.add_trace(prod, metadata={"user_id": "123", "email": "ada@example.com"})
    only_email = world.langsmith.add_trace(prod, metadata=EMAIL)
    only_id = world.langsmith.add_trace(prod, child_metadata=[SUBJECT])
    neither = world.langsmith.add_trace(prod, metadata={"user_id": "1234", "email": "ada@example.org"})

    file_subject(world, "metadata user_id=123 email=ada@example.com --reason DSR-8")
    world.people.bob.click(request_message(world), "Approve")
    wait_state(world, "submitted")

    assert sorted(deleted_traces(world)) == sorted([both, only_email, only_id])
    assert neither not in deleted_traces(world)


def test_an_examples_purge_reaches_earlier_versions_and_is_verified_when_they_read_back_empty(world: World) -> None:
    assert world.people is not None and world.bot is not None
    workspace = seed(world.langsmith)

    file_subject(world, f"examples user_id=123 --as-of {datetime.now(UTC):%Y-%m-%d} --reason DSR-9")
    root = request_message(world)
    assert "0 traces in 0 projects and 5 dataset examples in 2 datasets" in root.render()
    world.people.bob.click(root, "Approve")

    wait_state(world, "verified")
    assert sorted(hard_deleted_examples(world)) == sorted(workspace.examples_by_user_id)
    assert workspace.history_only in hard_deleted_examples(world)
    assert world.langsmith.calls_to("runs/delete") == []
    done = [c for c in checks.for_request(world.bot.store.db, 1) if c.state == checks.DONE]
    assert [(c.target, c.remaining) for c in done] == [("examples", 0)]
    assert items.count(world.bot.store.db, 1, items.INCLUDED, kind=items.EXAMPLE) == 5


def test_a_rate_limited_search_still_finishes(tmp_path: Path, clock: SandboxClock) -> None:
    langsmith = FakeLangSmith(api_key=LANGSMITH_KEY, query_limit=(4, 1.0), v2_query_limit=(4, 1.0))
    with running_world(tmp_path / "purgebot.db", clock=clock, tuning=FAST, langsmith=langsmith) as world:
        assert world.people is not None
        for n in range(12):
            project = langsmith.add_project(f"project-{n}")
            langsmith.add_traces(project, 3, metadata=SUBJECT)

        file_subject(world, "metadata user_id=123 --reason DSR-10")

        root = request_message(world)
        assert "36 traces in 12 projects" in root.render()
        assert any(call.status == 429 for call in langsmith.calls_to("runs/query"))


def _strings(value: object) -> Iterator[str]:
    """Every string inside an event's data (digests may contain "123"; a value equal to it may not)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
