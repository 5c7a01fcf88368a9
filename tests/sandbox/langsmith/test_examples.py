"""Datasets and examples: versions by ``as_of``, and the platform hard delete."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standin_http import assert_fastapi_422

from bot.sandbox.langsmith import FakeLangSmith


def test_examples_as_of_selects_the_version_in_force(
    langsmith_http: tuple[FakeLangSmith, httpx.Client],
) -> None:
    fake, http = langsmith_http
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    did = fake.add_dataset("ds")
    eid = fake.add_example(did, inputs={"q": "v1"}, metadata={"user_id": "123"}, created_at=t0)
    fake.edit_example(eid, inputs={"q": "v2"}, metadata={"user_id": "999"}, at=t0 + timedelta(days=1))
    fake.remove_example_from_latest(eid, at=t0 + timedelta(days=2))
    fake.add_example(did, inputs={"q": "other"}, metadata={"user_id": "123", "x": "y"}, created_at=t0)

    def search(as_of: str | None, user: str) -> list[dict[str, Any]]:
        params = {"metadata": json.dumps({"user_id": user})}
        if as_of:
            params["as_of"] = as_of
        r = http.get("/api/v1/examples", params=params)
        assert r.status_code == 200, r.text
        return [e for e in r.json() if e["id"] == eid]

    assert search(None, "123") == [] and search("latest", "999") == []  # removed from latest
    first = search((t0 + timedelta(hours=1)).isoformat(), "123")
    assert first and first[0]["inputs"] == {"q": "v1"}
    assert {
        "id",
        "dataset_id",
        "name",
        "inputs",
        "outputs",
        "metadata",
        "created_at",
        "modified_at",
    } <= first[0].keys()
    assert search((t0 + timedelta(hours=30)).isoformat(), "999")[0]["inputs"] == {"q": "v2"}
    assert search((t0 - timedelta(hours=1)).isoformat(), "123") == []
    # containment: both pairs must be present
    both = http.get("/api/v1/examples", params={"metadata": json.dumps({"user_id": "123", "x": "y"})}).json()
    assert len(both) == 1 and both[0]["inputs"] == {"q": "other"}
    assert http.get(f"/api/v1/examples/{eid}").status_code == 404
    old = http.get(f"/api/v1/examples/{eid}", params={"as_of": "2026-01-01T12:00:00Z"})
    assert old.status_code == 200 and old.json()["metadata"] == {"user_id": "123"}
    assert assert_fastapi_422(http.get("/api/v1/examples", params={"limit": 101}))


@pytest.mark.parametrize("platform", ["/v1/platform", "/api/v1/platform"])
def test_hard_delete_nulls_every_version_and_counts_existing_ids(
    langsmith_http: tuple[FakeLangSmith, httpx.Client], platform: str
) -> None:
    fake, http = langsmith_http
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    did = fake.add_dataset("ds")
    eid = fake.add_example(did, inputs={"q": "secret"}, outputs={"a": "x"}, metadata={"u": "1"}, created_at=t0)
    fake.edit_example(eid, inputs={"q": "secret 2"}, at=t0 + timedelta(days=1))
    keep = fake.add_example(did, inputs={"q": "keep"}, created_at=t0)
    r = http.post(
        f"{platform}/datasets/examples/delete",
        json={"example_ids": [eid, str(uuid.uuid4())], "hard_delete": True},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"count": 1, "example_ids": [eid]}
    assert all(
        v["inputs"] is None and v["outputs"] is None and v["metadata"] is None for v in fake.example_versions(eid)
    )
    old = http.get(f"/api/v1/examples/{eid}", params={"as_of": (t0 + timedelta(hours=1)).isoformat()}).json()
    assert old["inputs"] is None and old["metadata"] is None and old["id"] == eid
    assert http.get(f"/api/v1/examples/{keep}").json()["inputs"] == {"q": "keep"}
    assert fake.calls[-3].path == f"{platform}/datasets/examples/delete"


@pytest.mark.parametrize(
    "body",
    [
        {"example_ids": [], "hard_delete": True},
        {"hard_delete": True},
        {"example_ids": ["E"] * 1001, "hard_delete": True},
        {"example_ids": ["E"], "hard_delete": False},
        {"example_ids": ["E"]},
    ],
)
def test_hard_delete_validation(langsmith_http: tuple[FakeLangSmith, httpx.Client], body: dict[str, Any]) -> None:
    _, http = langsmith_http
    text = json.dumps(body).replace('"E"', json.dumps(str(uuid.uuid4())))
    r = http.post("/v1/platform/datasets/examples/delete", content=text, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    assert isinstance(r.json()["error"], str)
