"""The run filter language, parsed directly and applied by ``runs/query`` over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from standin_http import all_runs

from bot.sandbox.langsmith import FakeLangSmith, FilterError, parse_filter


@pytest.fixture
def filter_world(langsmith_http: tuple[FakeLangSmith, httpx.Client]) -> dict[str, Any]:
    fake, http = langsmith_http
    pid = fake.add_project("p")
    t = {
        "root": fake.add_trace(pid, metadata={"user_id": "123"}),
        "child": fake.add_trace(pid, metadata={"user_id": "456"}, child_metadata=[{"user_id": "123"}]),
        "split": fake.add_trace(pid, metadata={"user_id": "999", "note": "123"}),
        "email": fake.add_trace(pid, metadata={"email": "o'brien@x.io"}),
        "none": fake.add_trace(pid),
    }
    return {"http": http, "pid": pid, "t": t, "fake": fake}


PAIR = 'and(eq(metadata_key, "user_id"), eq(metadata_value, "123"))'


def _traces_of(world: dict[str, Any], body: dict[str, Any]) -> set[str]:
    runs = all_runs(world["http"], {"session": [world["pid"]], "select": ["id", "trace_id"], **body})
    names = {v: k for k, v in world["t"].items()}
    return {names[r["trace_id"]] for r in runs}


def test_filter_pair_binds_key_and_value_to_one_entry(filter_world: dict[str, Any]) -> None:
    runs = all_runs(filter_world["http"], {"session": [filter_world["pid"]], "filter": PAIR})
    # the root of "root" and the child run of "child" match; "split" has 123 under another key
    assert len(runs) == 2
    assert _traces_of(filter_world, {"filter": PAIR}) == {"root", "child"}
    assert _traces_of(filter_world, {"filter": PAIR, "is_root": True}) == {"root"}


def test_tree_filter_finds_traces_through_child_runs(filter_world: dict[str, Any]) -> None:
    roots = all_runs(filter_world["http"], {"session": [filter_world["pid"]], "tree_filter": PAIR, "is_root": True})
    assert {r["id"] for r in roots} == {filter_world["t"]["root"], filter_world["t"]["child"]}
    assert _traces_of(filter_world, {"trace_filter": PAIR}) == {"root"}


def test_filter_or_in_neq_and_quotes(filter_world: dict[str, Any]) -> None:
    either = (
        "or(and(eq(metadata_key, 'user_id'), eq(metadata_value, '999')),"
        " and(eq(metadata_key, \"email\"), eq(metadata_value, 'o\\'brien@x.io')))"
    )
    assert _traces_of(filter_world, {"filter": either}) == {"split", "email"}
    keys = 'and(in(metadata_key, ["note", "email"]), neq(metadata_value, "nothing"))'
    assert _traces_of(filter_world, {"filter": keys}) == {"split", "email"}
    by_id = f'in(trace_id, ["{filter_world["t"]["none"]}"])'
    assert _traces_of(filter_world, {"filter": by_id}) == {"none"}
    assert _traces_of(filter_world, {"filter": 'eq(run_type, "llm")'}) == {"child"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "eq(metadata_key)",
        "gt(metadata_value, '1')",
        "eq(colour, 'x')",
        "and(eq(id, 'x')",
        "eq(id, 'x') junk",
    ],
)
def test_unparsable_filters_raise(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)
