"""Small helpers for the end-to-end tests: read what the workspace shows and what purgebot stored."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import SandboxClock, parse_utc
from bot.sandbox.slack_blocks import readable
from bot.sandbox.slack_records import Message
from bot.sandbox.world import REQUESTS_CHANNEL, World
from storage import checks, requests

WAIT = 15.0


def file_traces(
    world: World, ids: list[str], *, project: str = "prod-chat", user: str = "alice", extra: str = ""
) -> str:
    """Alice (by default) files a trace purge; returns the ack text."""
    assert world.people is not None
    person = getattr(world.people, user)
    delivered = person.slash(
        f'traces {project} {" ".join(ids)} --reason "DSR-1042" {extra}', channel_id=REQUESTS_CHANNEL
    )
    assert delivered.status == 200, delivered.body
    return delivered.body


def request_message(world: World, number: int = 1) -> Message:
    """The request's root message once its preview (and so its buttons) is posted."""

    def ready(_: object) -> bool:
        return _root(world, number) is not None

    world.slack.wait_for(ready, timeout=WAIT)
    message = _root(world, number)
    assert message is not None
    return message


def _root(world: World, number: int) -> Message | None:
    for message in world.slack.messages(REQUESTS_CHANNEL):
        if not message.is_reply and f"PURGE-{number}*" in message.render() and "[Approve]" in message.render():
            return message
    return None


def thread(world: World, root: Message) -> list[str]:
    return [readable(reply.text) for reply in world.slack.thread(REQUESTS_CHANNEL, root.ts) if reply.is_reply]


def wait_thread(world: World, root: Message, words: str) -> None:
    def said(_: object) -> bool:
        return any(words in text for text in thread(world, root))

    said.__name__ = f"thread says {words!r}"
    world.slack.wait_for(said, timeout=WAIT)


def state(world: World, number: int = 1) -> str:
    assert world.bot is not None
    return requests.get(world.bot.store.db, number).state


def wait_state(world: World, wanted: str, number: int = 1) -> None:
    def reached(_: object) -> bool:
        return state(world, number) == wanted

    reached.__name__ = f"PURGE-{number} is {wanted}"
    world.slack.wait_for(reached, timeout=WAIT)


def ephemeral_texts(world: World, user_id: str) -> list[str]:
    return [readable(e.text) for e in world.slack.ephemerals(user_id)]


def wait_ephemeral(world: World, user_id: str, words: str) -> None:
    def shown(_: object) -> bool:
        return any(words in text for text in ephemeral_texts(world, user_id))

    shown.__name__ = f"{user_id} was told {words!r}"
    world.slack.wait_for(shown, timeout=WAIT)


def jump_to_next_check(world: World, clock: SandboxClock, number: int = 1) -> None:
    """Move the clock just past the request's next pending scheduled check and wake the scheduler."""
    assert world.bot is not None
    upcoming = checks.next_pending(world.bot.store.db, number)
    assert upcoming is not None, "no scheduled check is pending"
    clock.jump_to(parse_utc(upcoming.due_at) + timedelta(seconds=1))
    world.bot.wake()
