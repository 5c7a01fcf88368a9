"""What a crash-loop trial must find once its purge is submitted: the invariants of DESIGN.md's
"Nothing lost", read from the SQLite file and from the stand-ins' call logs.

Kept apart from the trial's story (:mod:`bot.sandbox.crash`) so that what is checked reads in one
place. A broken invariant is collected in the trial's result, not raised: one trial reports all it saw.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.sandbox.crash_plan import TrialResult
from bot.sandbox.langsmith import Call
from bot.sandbox.world import NOTIFY_CHANNEL, REQUESTS_CHANNEL, World
from bot.workflow import items_digest
from storage import batches, checks, events, items, requests
from storage.db import Store


class Invariants:
    """The checks of one trial. ``unanswered`` counts, per call, the delete calls killed processes
    made whose batch their file did not record as sent: the only calls that may be made again."""

    def __init__(self, world: World, result: TrialResult, unanswered: Counter[tuple[str, str]]) -> None:
        self.world = world
        self.result = result
        self.unanswered = unanswered

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.result.failures.append(message)

    def purge(self, store: Store, subject: set[str], others: set[str]) -> None:
        """After the last restart: every approved trace ID went out, each batch is recorded sent exactly
        once, re-sends stay within what kills can explain, the scheduled check exists, the chain holds,
        and Slack saw nothing twice."""
        db = store.db
        expect = self.expect
        request = requests.get(db, 1)
        expect(request.state == "submitted", f"PURGE-1 is {request.state}, not submitted")
        expect(request.claim_owner is None, f"PURGE-1 is still claimed by {request.claim_owner}")
        approved = set(items.values(db, 1, items.INCLUDED, kind=items.TRACE))
        expect(approved == subject, f"approved set has {len(approved):,} IDs; the subject has {len(subject):,}")

        rows = batches.for_request(db, 1)
        self.result.batches = len(rows)
        expect(bool(rows), "no batches were written")
        unsent = [(b.id, b.state) for b in rows if b.state != batches.SENT]
        expect(not unsent, f"batches not sent: {unsent}")
        expect(all(b.attempts == 1 for b in rows), f"a batch was recorded more than once: {[b.attempts for b in rows]}")
        recorded = Counter(e.data["batch"] for e in events.for_request(db, 1) if e.kind == "batch_sent")
        expect(
            recorded == Counter({b.id: 1 for b in rows}),
            f"batch_sent events per batch: {dict(recorded)} (batches {[b.id for b in rows]})",
        )
        kinds = [e.kind for e in events.for_request(db, 1)]
        expect(kinds.count("submitted") == 1, f"{kinds.count('submitted')} 'submitted' events")

        stored_calls = {batch_key(b, items.in_batch(db, b)) for b in rows}
        deletes = self.world.langsmith.calls_to("runs/delete")
        made = Counter(call_key(call) for call in deletes)
        expect(set(made) == stored_calls, "a delete call does not match any stored batch (re-cut or extra)")
        statuses = Counter(call.status for call in deletes)
        expect(set(statuses) <= {202, 499}, f"delete answers: {dict(statuses)}")
        accepted = {tid for call in deletes if call.status == 202 for tid in call.body.get("trace_ids") or []}
        expect(accepted == approved, f"accepted deletes cover {len(accepted & approved):,} of {len(approved):,} IDs")
        expect(not accepted & others, f"{len(accepted & others)} unrelated traces were sent for deletion")
        self.result.duplicates = sum(count - 1 for count in made.values())
        resent_unasked = sorted(n - 1 - self.unanswered[key] for key, n in made.items() if n - 1 > self.unanswered[key])
        expect(not resent_unasked, f"a batch recorded as sent at a kill was sent again ({resent_unasked} extra calls)")
        expect(
            self.result.duplicates <= self.result.bound,
            f"{self.result.duplicates} re-sent calls, more than kills x concurrency = {self.result.bound}",
        )

        scheduled = [c for c in checks.for_request(db, 1) if c.kind == checks.SCHEDULED]
        expect(
            [(c.seq, c.state, c.target) for c in scheduled] == [(0, checks.PENDING, checks.TRACES)],
            f"scheduled checks: {[(c.seq, c.state, c.target) for c in scheduled]}",
        )
        self.file(store)
        self.slack(submitted_posts=1)

    def file(self, store: Store) -> None:
        chain = events.verify_chain(store.db)
        self.expect(chain.intact, f"the event chain is broken at event {chain.first_bad}")
        integrity = store.db.execute("PRAGMA integrity_check").fetchone()[0]
        self.expect(integrity == "ok", f"PRAGMA integrity_check: {integrity}")

    def slack(self, *, submitted_posts: int) -> None:
        """Nothing posted twice: every bot message carries its outbox id, and no id appears twice."""
        slack = self.world.slack
        posted = [
            m
            for channel in (REQUESTS_CHANNEL, NOTIFY_CHANNEL)
            for m in slack.messages(channel)
            if m.is_bot and not m.files
        ]  # uploaded evidence reports carry no metadata
        ids = Counter((m.metadata or {}).get("event_payload", {}).get("outbox_id") for m in posted)
        twice = {key: n for key, n in ids.items() if n > 1}
        self.expect(not twice, f"posted twice (outbox id: times): {twice}")
        self.expect(None not in ids, "a bot message without an outbox id")
        said = sum("is *submitted*" in m.render() for m in posted if m.is_reply)
        self.expect(said == submitted_posts, f"'submitted' said {said} times in the thread")


def batch_key(batch: batches.Batch, values: list[str]) -> tuple[str, str]:
    if batch.kind == batches.METADATA:
        return ("metadata", batch.digest)
    return (str(batch.session_id), ",".join(sorted(values)))


def call_key(call: Call) -> tuple[str, str]:
    body: dict[str, Any] = call.body if isinstance(call.body, dict) else {}
    if body.get("metadata"):
        return ("metadata", items_digest([f"{k}={v}" for k, v in body["metadata"].items()]))
    return (str(body.get("session_id")), ",".join(sorted(body.get("trace_ids") or [])))
