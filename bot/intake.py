"""Requests from privacy platforms: Ketch's forwarder ``dsr/v1`` and purgebot's own small intake API.

A platform's request becomes the same subject request a person files with ``/purge metadata``: its
values go through the grammar's own rules (``parse_pairs``, ``parse_reason``, ``parse_due``) and
it is filed by ``Workflow.file``, so nothing enters from here that Slack would refuse, and it is
previewed, approved by a second person, executed and checked like any other. The platform is its
requester (``platform:<name>``), so every approver may approve it and none of them is the requester.

What the platform hears afterwards is :mod:`bot.status_feed`'s work, and its delivery
:mod:`bot.callbacks`'s.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from bot import grammar
from bot.clock import Clock, utc_iso
from bot.filing import Filing
from bot.grammar import GrammarError, MetadataRequest, RequestOptions
from bot.masking import mask
from bot.settings import Settings
from bot.status_feed import DSR_V1, expected_completion
from bot.vault import CallbackTarget, Vault
from storage import batches, checks, intake, requests
from storage.db import StorageError, Store
from storage.requests import Request

log = logging.getLogger(__name__)

KETCH = "ketch"
API = "api"
PLATFORM_PREFIX = "platform:"


class IntakeRefused(Exception):
    """The platform's request cannot be taken: ``status`` is the HTTP status, ``code`` Ketch's error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Answer:
    """What the HTTP route answers: a status code and a JSON body."""

    status: int
    body: dict[str, Any]


def requester_of(platform: str) -> str:
    return PLATFORM_PREFIX + platform


class Intake:
    """Files platform requests through the filing path and turns the event chain into status events."""

    def __init__(self, *, store: Store, filing: Filing, vault: Vault, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._vault = vault
        self._filing = filing
        self._clock = clock
        self._settings = settings
        self._identities = dict(settings.purgebot_identity_map)

    @property
    def enabled(self) -> bool:
        """Without ``PURGEBOT_INTAKE_TOKEN`` the intake API does not exist (404)."""
        return self._settings.purgebot_intake_token is not None

    @property
    def token(self) -> str:
        secret = self._settings.purgebot_intake_token
        return secret.get_secret_value() if secret is not None else ""

    # -- Ketch dsr/v1 -----------------------------------------------------------------------------

    def ketch(self, body: Any) -> Answer:
        """A ``DeleteRequest`` in, a ``DeleteResponse`` (or a dsr/v1 ``Error``) out."""
        metadata = body.get("metadata") if isinstance(body, dict) else None
        uid = metadata.get("uid") if isinstance(metadata, dict) else None
        tenant = metadata.get("tenant") if isinstance(metadata, dict) else None
        meta = {"uid": uid if isinstance(uid, str) else "", "tenant": tenant if isinstance(tenant, str) else ""}
        try:
            return self._ketch(body, meta)
        except IntakeRefused as refused:
            error = {"code": refused.status, "status": refused.code, "message": str(refused)}
            return Answer(refused.status, {"apiVersion": DSR_V1, "kind": "Error", "metadata": meta, "error": error})

    def _ketch(self, body: Any, meta: dict[str, str]) -> Answer:
        if not isinstance(body, dict) or body.get("apiVersion") != DSR_V1 or body.get("kind") != "DeleteRequest":
            raise IntakeRefused(400, "invalid", 'expected {"apiVersion": "dsr/v1", "kind": "DeleteRequest", …}')
        if not meta["uid"]:
            raise IntakeRefused(400, "invalid", "metadata.uid is required")
        with self._store.read_snapshot() as db:
            earlier = intake.by_uid(db, KETCH, meta["uid"])
        if earlier is not None:
            return Answer(200, earlier.answer)
        request = body.get("request")
        if not isinstance(request, dict):
            raise IntakeRefused(400, "invalid", "request is required")
        callbacks = self._sealed(_callbacks(request.get("callbacks")))
        identities = request.get("identities")
        if not isinstance(identities, list) or not identities:
            raise IntakeRefused(400, "invalid", "request.identities must list at least one identity")
        unmapped = self._unmapped(identities)
        if unmapped is not None:
            # Ketch's own word for "nothing of this subject can be found here"; nothing is filed.
            denied = {"status": "denied", "reason": unmapped}
            return Answer(200, {"apiVersion": DSR_V1, "kind": "DeleteResponse", "metadata": meta, "response": denied})
        pairs = [(self._identities[i["identitySpace"]], str(i["identityValue"])) for i in identities]
        regulation = str(request.get("regulation") or "a privacy regulation")[:40]
        due = _due_from(request.get("dueTimestamp"), self._settings)
        expected = expected_completion(self._clock.now(), self._settings)
        answer = {
            "apiVersion": DSR_V1,
            "kind": "DeleteResponse",
            "metadata": meta,
            "response": {"status": "pending", "expectedCompletionTimestamp": int(expected.timestamp())},
        }
        self._file(
            KETCH,
            pairs=pairs,
            reason=f"Ketch {regulation} delete request",
            ticket=meta["uid"],
            due=due,
            uid=meta["uid"],
            tenant=meta["tenant"] or None,
            answer=answer,
            callbacks=callbacks,
        )
        return Answer(200, answer)

    def _sealed(self, targets: list[CallbackTarget]) -> list[tuple[str, str]]:
        """(origin, sealed target) of each callback: without a key its credential could only rest in the clear,
        so the request is refused and nothing is filed."""
        if targets and not self._vault.ready:
            raise IntakeRefused(
                503, "configuration", "PURGEBOT_INTAKE_KEY is not set: callback credentials cannot be kept safely"
            )
        return [(target.origin, self._vault.seal(target)) for target in targets]

    def _unmapped(self, identities: list[Any]) -> str | None:
        """Why the identities cannot be searched (an unknown type, a hashed value), or None."""
        for identity in identities:
            if not isinstance(identity, dict) or not isinstance(identity.get("identitySpace"), str):
                raise IntakeRefused(400, "invalid", "each identity needs identitySpace, identityFormat, identityValue")
            value = identity.get("identityValue")
            if not isinstance(value, str | int) or str(value) == "":
                raise IntakeRefused(400, "invalid", "each identity needs a non-empty identityValue")
            space = identity["identitySpace"]
            # dsr/v1's reason for "nothing of this subject can be found here": an identity type that
            # PURGEBOT_IDENTITY_MAP does not map, or a hashed value no metadata search could match
            if space not in self._identities or identity.get("identityFormat", "raw") != "raw":
                return "no_match"
        return None

    # -- purgebot's own API -----------------------------------------------------------------------

    def submit(self, body: Any) -> Answer:
        """``{"kind", "pairs": {k: v}, "reason", "ticket", "due"}`` → ``{"id": "PURGE-n"}``."""
        try:
            if not isinstance(body, dict):
                raise IntakeRefused(400, "invalid", "expected a JSON object")
            kind = body.get("kind")
            if kind not in ("metadata", "examples"):
                raise IntakeRefused(400, "invalid", 'kind must be "metadata" or "examples"')
            given = body.get("pairs")
            if not isinstance(given, dict) or not given or not all(isinstance(v, str) for v in given.values()):
                raise IntakeRefused(400, "invalid", 'pairs must be an object of strings, e.g. {"user_id": "123"}')
            due = body.get("due")
            if due is not None and not isinstance(due, str):
                raise IntakeRefused(400, "invalid", "due must be a date YYYY-MM-DD")
            request_id = self._file(
                API,
                pairs=list(given.items()),
                reason=_text(body.get("reason"), "reason"),
                ticket=_text(body.get("ticket"), "ticket") or None,
                due=due,
                uid=None,
                tenant=None,
                answer={},
                callbacks=[],
                kind=kind,
            )
        except IntakeRefused as refused:
            return Answer(refused.status, {"error": str(refused)})
        return Answer(201, {"id": f"PURGE-{request_id}"})

    def describe(self, label: str) -> Answer:
        """State, counts and next check of ``PURGE-n`` — never a subject value."""
        number = label.upper().removeprefix("PURGE-")
        if not number.isdigit():
            return Answer(404, {"error": "expected a request ID such as PURGE-7"})
        with self._store.read_snapshot() as db:
            request = requests.find(db, int(number))
            if request is None:
                return Answer(404, {"error": f"PURGE-{int(number)} does not exist"})
            upcoming = checks.next_pending(db, request.id)
            sent = {kind: batches.counts(db, request.id, kind) for kind in (batches.TRACES, batches.EXAMPLES)}
            undelivered = intake.undelivered(db, request.id)
        return Answer(200, _described(request, upcoming, sent, undelivered))

    # -- filing -----------------------------------------------------------------------------------

    def _file(
        self,
        platform: str,
        *,
        pairs: list[tuple[str, str]],
        reason: str,
        ticket: str | None,
        due: str | None,
        uid: str | None,
        tenant: str | None,
        answer: dict[str, Any],
        callbacks: list[tuple[str, str]],
        kind: str = "metadata",
    ) -> int:
        channel = self._settings.purgebot_intake_channel
        if channel is None:
            raise IntakeRefused(503, "configuration", "PURGEBOT_INTAKE_CHANNEL is not set: nowhere to post requests")
        now = self._clock.now()
        try:
            options = RequestOptions(
                reason=grammar.parse_reason(reason),
                ticket=grammar.parse_ticket(ticket or ""),
                due=grammar.parse_due(due or "", now=now.astimezone(self._settings.purgebot_timezone)),
            )
            parsed = tuple(_exact_pair(key, value, kind) for key, value in pairs)
        except GrammarError as error:
            # The grammar's words, with any subject value in them masked: answers never carry one.
            words = str(error)
            for _, value in sorted(pairs, key=lambda pair: -len(pair[1])):
                words = words.replace(value, mask(value))
            raise IntakeRefused(400, "invalid", words) from None
        command: grammar.Request = (
            MetadataRequest(pairs=parsed, options=options)
            if kind == "metadata"
            else grammar.ExamplesRequest(pairs=parsed, as_of=now, options=options)
        )
        filed: list[int] = []

        def record(db: Database, request: Request) -> None:
            intake.add(
                db,
                request_id=request.id,
                platform=platform,
                uid=uid,
                tenant=tenant,
                answer=answer,
                callbacks=callbacks,
                at=utc_iso(now),
            )
            filed.append(request.id)

        try:
            refusal = self._filing.file(
                command,
                requester=requester_of(platform),
                channel=channel,
                trigger_id=f"{platform}:{uid or utc_iso(now)}",
                record=record,
            )
        except sqlite3.IntegrityError:
            # The same uid arrived twice at once and the other delivery won: this one filed nothing.
            raise IntakeRefused(409, "conflict", "this request is being filed by an earlier delivery") from None
        except StorageError as error:
            log.warning("intake request not recorded", extra={"platform": platform, "problem": type(error).__name__})
            raise IntakeRefused(503, "unavailable", "the request could not be recorded; nothing was filed") from None
        if refusal is not None:
            raise IntakeRefused(503, "configuration", refusal.text)
        log.info("request filed from the intake API", extra={"request": f"PURGE-{filed[0]}", "platform": platform})
        return filed[0]


def _callbacks(given: Any) -> list[CallbackTarget]:
    if given is None:
        return []
    if not isinstance(given, list):
        raise IntakeRefused(400, "invalid", "request.callbacks must be a list")
    found = []
    for callback in given:
        url = callback.get("url") if isinstance(callback, dict) else None
        headers = callback.get("headers") or {} if isinstance(callback, dict) else {}
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise IntakeRefused(400, "invalid", "each callback needs an http(s) url")
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise IntakeRefused(400, "invalid", "callback headers must be an object of strings")
        found.append(CallbackTarget(url=url, headers={str(k): v for k, v in headers.items()}))
    return found


def _due_from(timestamp: Any, settings: Settings) -> str | None:
    """``dueTimestamp`` (Unix seconds) as the due date in ``PURGEBOT_TIMEZONE``; None when not given."""
    if timestamp in (None, 0):
        return None
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        raise IntakeRefused(400, "invalid", "request.dueTimestamp must be Unix seconds")
    try:
        moment = datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        raise IntakeRefused(400, "invalid", "request.dueTimestamp is out of range") from None
    return date.isoformat(moment.astimezone(settings.purgebot_timezone).date())


def _exact_pair(key: str, value: str, kind: str) -> tuple[str, str]:
    """The pair as the grammar reads it from the request form, refused unless it reads back exactly."""
    if '"' in value:
        raise GrammarError(f"The {key} value contains a double quote, which cannot be searched for exactly.")
    parsed = grammar.parse_pairs(f'{key}="{value}"', kind=kind)
    if parsed != ((key, value),):
        raise GrammarError(f"The {key} value cannot be carried exactly into a search.")
    return parsed[0]


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise IntakeRefused(400, "invalid", f"{name} must be a string")
    return value


def _described(
    request: Request,
    upcoming: checks.Check | None,
    sent: Mapping[str, tuple[int, int, int, int]],
    undelivered: list[tuple[str, str]],
) -> dict[str, Any]:
    return {
        "id": request.label,
        "state": request.state,
        "kind": request.kind,
        "due": request.due_date,
        "counts": {
            "traces": request.included_traces,
            "examples": request.included_examples,
            "trace_ids_accepted": sent[batches.TRACES][3],
            "examples_accepted": sent[batches.EXAMPLES][3],
        },
        "next_check": upcoming.due_at if upcoming else None,
        "undelivered_statuses": [{"status": status, "error": error} for status, error in undelivered],
    }
