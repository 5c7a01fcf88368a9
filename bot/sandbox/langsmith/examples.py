"""Datasets and examples: ``GET datasets``, ``GET datasets/{id}/versions``, ``GET examples``,
``GET examples/{id}`` and the platform hard delete ``POST datasets/examples/delete`` (reference §4).

Examples keep every version: ``as_of`` reads the one in force then, a soft delete only leaves
"latest", and only the hard delete nulls inputs, outputs and metadata in every version at once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.sandbox.langsmith.answers import Answer, invalid, paging, query_uuid
from bot.sandbox.langsmith.model import Example, Version, example_json
from bot.sandbox.langsmith.state import Workspace
from bot.sandbox.langsmith.wire import iso_dt, norm_uuid, parse_time

MAX_HARD_DELETE_EXAMPLES = 1000


def list_datasets(ws: Workspace, query: Any) -> list[dict[str, Any]]:
    """``GET datasets``: every dataset, oldest first, offset-paged (a bare array, like sessions)."""
    offset, limit = paging(query)
    rows = []
    for did, name in ws.datasets.items():
        members = [e for e in ws.examples.values() if e.dataset_id == did]
        times = [v.at for e in members for v in e.versions]
        rows.append(
            {
                "id": did,
                "name": name,
                "tenant_id": ws.tenant_id,
                "example_count": len(members),
                "modified_at": iso_dt(max(times)) if times else None,
            }
        )
    return rows[offset : offset + limit]


def dataset_versions(ws: Workspace, raw_id: str, query: Any) -> list[dict[str, Any]]:
    """``GET datasets/{id}/versions``: one entry per moment the dataset changed, newest first."""
    did = norm_uuid(raw_id)
    if did is None:
        raise invalid(["path", "dataset_id"], "Input should be a valid UUID", "uuid_parsing", raw_id)
    if did not in ws.datasets:
        raise Answer(404, {"detail": "Dataset not found"})
    offset, limit = paging(query)
    moments = sorted({v.at for e in ws.examples.values() if e.dataset_id == did for v in e.versions}, reverse=True)
    return [{"as_of": iso_dt(moment), "tags": []} for moment in moments[offset : offset + limit]]


def list_examples(ws: Workspace, query: Any) -> list[dict[str, Any]]:
    """``GET examples``: ``metadata`` is a JSON object matched by containment at ``as_of``."""
    offset, limit = paging(query)
    as_of = as_of_param(query.get("as_of"))
    ids = {query_uuid(v, "id") for v in query.getlist("id")}
    dataset = query.get("dataset")
    did = query_uuid(dataset, "dataset") if dataset is not None else None
    wanted: dict[str, Any] | None = None
    if query.get("metadata") is not None:
        try:
            wanted = json.loads(query["metadata"])
        except ValueError:
            wanted = None
        if not isinstance(wanted, dict):
            raise invalid(["query", "metadata"], "Input should be a JSON object", "json_invalid")
    found: list[tuple[Example, Version]] = []
    for example in ws.examples.values():
        if (ids and example.id not in ids) or (did and example.dataset_id != did):
            continue
        version = example.at(as_of)
        if version is None:
            continue
        if wanted and not (
            version.metadata is not None and all(version.metadata.get(k) == v for k, v in wanted.items())
        ):
            continue
        found.append((example, version))
    found.sort(key=lambda ev: (ev[0].created_at, ev[0].id), reverse=True)
    return [example_json(e, v) for e, v in found[offset : offset + limit]]


def get_example(ws: Workspace, raw_id: str, query: Any) -> dict[str, Any]:
    eid = norm_uuid(raw_id)
    if eid is None:
        raise invalid(["path", "example_id"], "Input should be a valid UUID", "uuid_parsing", raw_id)
    as_of = as_of_param(query.get("as_of"))
    example = ws.examples.get(eid)
    version = example.at(as_of) if example else None
    if example is None or version is None:
        raise Answer(404, {"detail": "Example not found"})
    return example_json(example, version)


def hard_delete(ws: Workspace, raw_body: bytes) -> dict[str, Any]:
    """Null inputs/outputs/metadata in every version at once; count the ids that existed."""
    try:
        body = json.loads(raw_body or b"null")
    except ValueError as exc:
        raise Answer(400, {"error": "invalid request body", "details": str(exc)}) from exc
    if not isinstance(body, dict):
        raise Answer(400, {"error": "invalid request body", "details": "expected a JSON object"})
    ids = body.get("example_ids")
    if not isinstance(ids, list) or not ids:
        raise Answer(422, {"error": "example_ids is required and must not be empty", "details": None})
    if len(ids) > MAX_HARD_DELETE_EXAMPLES:
        raise Answer(
            422,
            {"error": f"example_ids must have at most {MAX_HARD_DELETE_EXAMPLES} items", "details": None},
        )
    if body.get("hard_delete") is not True:
        raise Answer(422, {"error": "hard_delete: currently only true is supported", "details": None})
    normalised: list[str] = []
    for raw in ids:
        eid = norm_uuid(raw)
        if eid is None:
            raise Answer(400, {"error": "invalid example id", "details": json.dumps(raw)})
        normalised.append(eid)
    deleted: list[str] = []
    for eid in dict.fromkeys(normalised):
        example = ws.examples.get(eid)
        if example is None:
            continue
        for version in example.versions:
            version.inputs = version.outputs = version.metadata = None
        deleted.append(eid)
    return {"count": len(deleted), "example_ids": deleted}


def as_of_param(raw: str | None) -> datetime | None:
    if raw is None or raw == "latest":
        return None
    moment = parse_time(raw)
    if moment is None:
        raise invalid(["query", "as_of"], "Input should be a datetime or 'latest'", "datetime_parsing", raw)
    return moment
