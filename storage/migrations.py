"""Numbered, named migrations from an empty file; each runs in its own transaction."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("purgebot")


@migrations()
def m001_initial(db: Database) -> None:
    """Requests, their raw items, batches, checks, the event chain, the outbox and replays."""
    db.table("requests").create(
        {
            "id": int,
            "kind": str,
            "state": str,
            "requester": str,
            "channel": str,
            "reason": str,
            "ticket": str,
            "due_date": str,
            "project": str,
            "session_id": str,
            "item_count": int,
            "items_digest": str,
            "trigger_id": str,
            "created_at": str,
            "updated_at": str,
            "preview": str,
            "preview_digest": str,
            "decided_by": str,
            "decided_at": str,
            "submitted_at": str,
            "paused_until": str,
            "failure": str,
            "claim_owner": str,
            "claim_expires": str,
        },
        pk="id",
        not_null={"kind", "state", "requester", "channel", "reason", "created_at", "updated_at"},
    )
    db.table("requests").create_index(["state"], index_name="idx_requests_state")
    db.table("items").create(
        {"request_id": int, "seq": int, "value": str, "session_id": str, "status": str, "batch_id": int},
        pk=("request_id", "seq"),
        not_null={"request_id", "seq", "value", "status"},
        foreign_keys=[("request_id", "requests", "id")],
    )
    db.table("items").create_index(["request_id", "status", "batch_id"], index_name="idx_items_status")
    db.table("items").create_index(["batch_id"], index_name="idx_items_batch")
    db.table("batches").create(
        {
            "id": int,
            "request_id": int,
            "round": int,
            "session_id": str,
            "size": int,
            "digest": str,
            "state": str,
            "created_at": str,
            "sent_at": str,
            "status_code": int,
            "response": str,
            "attempts": int,
        },
        pk="id",
        not_null={"request_id", "round", "session_id", "size", "digest", "state", "created_at"},
        defaults={"attempts": 0},
        foreign_keys=[("request_id", "requests", "id")],
    )
    db.table("batches").create_index(["request_id", "state"], index_name="idx_batches_state")
    db.table("checks").create(
        {
            "id": int,
            "request_id": int,
            "seq": int,
            "kind": str,
            "due_at": str,
            "state": str,
            "requested_by": str,
            "claim_owner": str,
            "claim_expires": str,
            "attempts": int,
            "last_error": str,
            "finished_at": str,
            "checked": int,
            "remaining": int,
            "outcome": str,
        },
        pk="id",
        not_null={"request_id", "seq", "kind", "due_at", "state"},
        defaults={"attempts": 0},
        foreign_keys=[("request_id", "requests", "id")],
    )
    db.table("checks").create_index(["state", "due_at"], index_name="idx_checks_due")
    db.table("events").create(
        {
            "seq": int,
            "request_id": int,
            "at": str,
            "actor": str,
            "kind": str,
            "data": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="seq",
        not_null={"at", "actor", "kind", "data", "prev_hash", "hash"},
    )
    db.table("events").create_index(["request_id"], index_name="idx_events_request")
    db.table("outbox").create(
        {
            "id": int,
            "request_id": int,
            "kind": str,
            "slot": str,
            "channel": str,
            "in_thread": int,
            "user": str,
            "payload": str,
            "state": str,
            "attempts": int,
            "next_attempt_at": str,
            "ts": str,
            "error": str,
            "created_at": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"kind", "payload", "state", "created_at", "next_attempt_at"},
        defaults={"attempts": 0, "in_thread": 0},
    )
    db.table("outbox").create_index(["state", "next_attempt_at"], index_name="idx_outbox_due")
    db.table("messages").create(
        {"request_id": int, "slot": str, "channel": str, "ts": str},
        pk=("request_id", "slot"),
        not_null={"channel", "ts"},
    )
    db.table("interactions").create(
        {"key": str, "at": str, "answer": str},
        pk="key",
        not_null={"at", "answer"},
    )


@migrations()
def m002_subject_purges(db: Database) -> None:
    """Subject purges: items of two kinds (traces, dataset examples), the searched pairs, and
    checks and batches that say what they are about."""
    items = db.table("items")
    items.add_column("kind", str, not_null_default="trace")
    items.add_column("dataset_id", str)
    items.add_column("found", str, not_null_default="preview")  # preview | execution
    items.add_column("as_of", str)  # for examples: the dataset version the example was found in
    items.create_index(["request_id", "kind", "value"], unique=True, index_name="uq_items_value")
    batches = db.table("batches")
    batches.add_column("kind", str, not_null_default="traces")  # traces | examples | metadata
    batches.transform(not_null={"session_id": False})
    db.table("checks").add_column("target", str, not_null_default="traces")  # traces | examples
    requests = db.table("requests")
    requests.add_column("as_of", str)
    requests.add_column("watermark", str)  # searches started here; later traces are "new since"
    db.table("pairs").create(
        {"request_id": int, "seq": int, "key": str, "value": str},
        pk=("request_id", "seq"),
        not_null={"key", "value"},
        foreign_keys=[("request_id", "requests", "id")],
    )


@migrations()
def m003_minimisation(db: Database) -> None:
    """When a request's raw subject values were replaced with keyed hashes."""
    db.table("requests").add_column("minimised_at", str)


@migrations()
def m004_batching_at_scale(db: Database) -> None:
    """Cutting a million approved items into batches: the cut reads the next items of a project after
    the last batch (``idx_items_container``), and putting an item in a batch updates its row and one
    small partial index — ``batch_id`` in a full index made that update most of the cut's cost. The
    container index also serves every lookup the old ``idx_items_status`` did."""
    db.execute("DROP INDEX idx_items_status")
    db.execute("DROP INDEX idx_items_batch")
    items = db.table("items")
    items.create_index(["request_id", "kind", "status", "session_id", "seq"], index_name="idx_items_container")
    db.execute("CREATE INDEX idx_items_batch ON items (batch_id, seq) WHERE batch_id IS NOT NULL")


@migrations()
def m005_included_counts(db: Database) -> None:
    """The size of the approved set per kind, stored when it changes, so a status need not count it."""
    requests = db.table("requests")
    requests.add_column("included_traces", int, not_null_default=0)
    requests.add_column("included_examples", int, not_null_default=0)
    for kind, column in (("trace", "included_traces"), ("example", "included_examples")):
        db.execute(
            f"UPDATE requests SET {column} = (SELECT count(*) FROM items WHERE items.request_id = requests.id "
            "AND items.kind = ? AND items.status = 'included')",
            [kind],
        )


@migrations()
def m006_query_windows(db: Database) -> None:
    """LangSmith's v2 run queries look only at the last day unless told a window: each trace keeps its
    start time, so later queries can state a window that covers it; each check keeps which API answered
    and the window it looked at (evidence), and when its failures began and were escalated."""
    db.table("items").add_column("start_time", str)
    checks = db.table("checks")
    checks.add_column("api", str)
    checks.add_column("window_start", str)
    checks.add_column("window_end", str)
    checks.add_column("failing_since", str)
    checks.add_column("escalated_at", str)


@migrations()
def m007_outbox_turns(db: Database) -> None:
    """The outbox offers each request's oldest pending row in turn: found by request, state and id."""
    db.table("outbox").create_index(["request_id", "state", "id"], index_name="idx_outbox_request_head")


@migrations()
def m008_texts(db: Database) -> None:
    """Free text (LangSmith's error messages, refusals) leaves the events for a table minimisation reaches;
    events carry its digest."""
    db.table("texts").create({"request_id": int, "digest": str, "text": str})
    db.table("texts").create_index(["request_id", "digest"], unique=True, index_name="uq_texts")


@migrations()
def m009_outbox_claims(db: Database) -> None:
    """An outbox row is claimed for each attempt, so two servers on one file never post it twice."""
    outbox = db.table("outbox")
    outbox.add_column("claim_owner", str)
    outbox.add_column("claim_expires", str)


@migrations()
def m010_redacted(db: Database) -> None:
    """When a request's message was edited down to counts after it came to rest (or NULL: still to do,
    which is how requests that ended before this version are found and edited after the upgrade)."""
    db.table("requests").add_column("redacted_at", str)


@migrations()
def m011_workspaces(db: Database) -> None:
    """A request may cover several LangSmith workspaces: the request names them (JSON list; NULL is the
    one workspace ``default`` of earlier versions), and every item and batch belongs to one."""
    db.table("requests").add_column("workspaces", str)
    db.table("items").add_column("workspace", str, not_null_default="default")
    db.table("batches").add_column("workspace", str, not_null_default="default")


@migrations()
def m012_manual_check_targets(db: Database) -> None:
    """A manual check recorded "both" whatever the request had sent; it looked only at what was sent, so
    each such row now says that: ``examples`` for an examples request, ``traces`` where no example was in
    the approved set, ``both`` only where traces and examples were."""
    db.execute(
        "UPDATE checks SET target = CASE "
        "WHEN (SELECT kind FROM requests WHERE id = checks.request_id) = 'examples' THEN 'examples' "
        "WHEN (SELECT included_examples FROM requests WHERE id = checks.request_id) = 0 THEN 'traces' "
        "ELSE 'both' END WHERE target = 'both'"
    )


@migrations()
def m013_checks_by_target(db: Database) -> None:
    """What a check found of each thing it looked at (JSON ``{"traces": [checked, remaining], …}``): a manual
    check of traces and examples that finds traces before the weekend must not hold back the verdict once
    they are gone, and status and the report can say which of the two remained."""
    db.table("checks").add_column("by_target", str)


@migrations()
def m014_intake(db: Database) -> None:
    """Requests from privacy platforms: which request answers which platform request (``uid``, so a replay
    gets the first answer), where its status goes (``intake_callbacks``), and the status events themselves
    as an outbox of their own (``callbacks``): a row first, claimed per attempt, sent in order."""
    db.table("intake").create(
        {
            "request_id": int,
            "platform": str,
            "uid": str,
            "tenant": str,
            "answer": str,
            "reported_seq": int,
            "closed": int,
            "created_at": str,
        },
        pk="request_id",
        not_null={"platform", "answer", "created_at"},
        defaults={"reported_seq": 0, "closed": 0},
    )
    db.execute("CREATE UNIQUE INDEX intake_uid ON intake (platform, uid) WHERE uid IS NOT NULL")
    db.table("intake_callbacks").create(
        {"id": int, "request_id": int, "url": str, "headers": str}, pk="id", not_null={"request_id", "url"}
    )
    db.table("callbacks").create(
        {
            "id": int,
            "request_id": int,
            "callback_id": int,
            "status": str,
            "payload": str,
            "state": str,
            "attempts": int,
            "next_attempt_at": str,
            "claim_owner": str,
            "claim_expires": str,
            "error": str,
            "created_at": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"request_id", "callback_id", "status", "payload", "state", "next_attempt_at", "created_at"},
        defaults={"attempts": 0},
    )
    db.execute("CREATE INDEX callbacks_pending ON callbacks (state, request_id, id)")


@migrations()
def m016_sealed_callback_targets(db: Database) -> None:
    """Callback targets (URL and headers: a platform's credential) rest only sealed under PURGEBOT_INTAKE_KEY
    (``bot.vault``). A migration has no key, so rows stored in the clear are sealed when ``serve`` starts."""
    db.table("intake_callbacks").add_column("sealed", str)


@migrations()
def m017_batch_ranges(db: Database) -> None:
    """A first-round batch is a range of positions — the items of one project (traces) or one workspace
    (examples), in the approved set, from ``first_seq`` to ``last_seq`` — so cutting a batch writes one
    row, not a row per item. ``items.batch_id`` now names only a re-send batch. Batches cut before this
    took their items in order, so each becomes the range from its first to its last item; an item a
    re-send took keeps that re-send's ``batch_id``. A search at execution overlaps the first deletes, so
    when it finished (``requests.searched_again_at``) and which projects it covered are recorded; a
    request with batches from before this ran its search before cutting them."""
    db.table("batches").add_column("first_seq", int)
    db.table("batches").add_column("last_seq", int)
    db.execute(
        "UPDATE batches SET first_seq = (SELECT min(seq) FROM items WHERE items.batch_id = batches.id), "
        "last_seq = (SELECT max(seq) FROM items WHERE items.batch_id = batches.id) "
        "WHERE round = 0 AND kind IN ('traces', 'examples')"
    )
    db.execute("UPDATE items SET batch_id = NULL WHERE batch_id IN (SELECT id FROM batches WHERE round = 0)")
    db.execute(
        "CREATE INDEX idx_batches_ranges ON batches (request_id, kind, workspace, session_id, first_seq) "
        "WHERE round = 0"
    )
    db.table("requests").add_column("searched_again_at", str)
    db.execute(
        "UPDATE requests SET searched_again_at = (SELECT min(created_at) FROM batches "
        "WHERE batches.request_id = requests.id) WHERE kind = 'metadata'"
    )
    db.table("search_covered").create(
        {"request_id": int, "workspace": str, "project": str, "at": str},
        pk=("request_id", "workspace", "project"),
    )


class SchemaTooNew(Exception):
    """The file was migrated by a newer purgebot: this code does not know every migration it holds."""


def unknown_migrations(db: Database) -> list[str]:
    """Migrations recorded in the file that this code does not have (a newer version wrote them)."""
    known = {migration.name for migration in migrations.pending(Database(memory=True))}
    return [applied.name for applied in migrations.applied(db) if applied.name not in known]


def migrate(db: Database) -> list[str]:
    """Apply what is pending and return the names applied (empty when the file is current).

    A file that holds a migration this code does not know was written by a newer purgebot: running
    older code on it would read and write a schema it does not understand, so it is refused before
    anything is applied. Rolling back means running the version that wrote it, or restoring the
    backup taken before the upgrade.
    """
    unknown = unknown_migrations(db)
    if unknown:
        raise SchemaTooNew(
            f"it was migrated by a newer purgebot (it holds {', '.join(unknown)}, unknown to this "
            "version): run that version again, or restore the backup taken before the upgrade"
        )
    pending = [migration.name for migration in migrations.pending(db)]
    migrations.apply(db)
    return pending
