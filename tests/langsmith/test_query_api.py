"""Choosing the run-query API: the SDK's rule over ``/info``, the hourly re-read, and switching on 404/410."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.langsmith import Backend, FoundRun, LangSmithUnavailable, QueryApi, QueryApiGone, Window, backend_of
from bot.langsmith.filters import Pairs
from bot.langsmith.query_api import QueryApiChoice, RunLookup

NOW = datetime(2027, 1, 15, tzinfo=UTC)
WINDOW = Window(NOW - timedelta(days=400), NOW)


@pytest.mark.parametrize(
    ("info", "backend"),
    [
        ({"instance_flags": {"ch_query_enabled": False, "sdb_query_enabled": True}}, Backend.SMITHDB_ONLY),
        ({"instance_flags": {"ch_query_enabled": True, "sdb_query_enabled": True}}, Backend.DUAL),
        ({"instance_flags": {"sdb_query_enabled": True}}, Backend.DUAL),  # ch defaults to true
        ({"instance_flags": {"ch_query_enabled": True, "sdb_query_enabled": False}}, Backend.CLICKHOUSE_ONLY),
        ({"instance_flags": {}}, Backend.CLICKHOUSE_ONLY),  # sdb defaults to false
        ({"version": "0.15.2"}, Backend.CLICKHOUSE_ONLY),  # an older self-hosted /info has no flags
        ({"instance_flags": {"ch_query_enabled": False}}, Backend.CLICKHOUSE_ONLY),
        ([], Backend.CLICKHOUSE_ONLY),
    ],
)
def test_the_sdks_rule_over_info(info: Any, backend: Backend) -> None:
    assert backend_of(info) is backend
    assert backend.api is (QueryApi.V1 if backend is Backend.CLICKHOUSE_ONLY else QueryApi.V2)


class Info:
    """``GET /info`` as a deployment answers it over time."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.reads = 0

    def __call__(self) -> Any:
        self.reads += 1
        answer = self.answers[min(self.reads, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


SMITHDB = {"instance_flags": {"ch_query_enabled": False, "sdb_query_enabled": True}}
CLICKHOUSE = {"instance_flags": {"ch_query_enabled": True, "sdb_query_enabled": False}}
DOWN = LangSmithUnavailable(status=503, reason="down", retry_after=None)


def test_auto_reads_info_at_first_use_and_again_after_an_hour() -> None:
    now = [0.0]
    info = Info(CLICKHOUSE, SMITHDB)
    choice = QueryApiChoice("auto", info, clock=lambda: now[0])
    assert choice.current() is QueryApi.V1
    now[0] = 3599.0
    assert choice.current() is QueryApi.V1 and info.reads == 1
    now[0] = 3600.0
    assert choice.current() is QueryApi.V2 and info.reads == 2


def test_an_unreadable_info_keeps_the_earlier_choice_or_starts_on_v2() -> None:
    now = [0.0]
    choice = QueryApiChoice("auto", Info(DOWN), clock=lambda: now[0])
    assert choice.current() is QueryApi.V2
    now = [0.0]
    choice = QueryApiChoice("auto", Info(CLICKHOUSE, DOWN), clock=lambda: now[0])
    assert choice.current() is QueryApi.V1
    now[0] = 7200.0
    assert choice.current() is QueryApi.V1


@pytest.mark.parametrize("setting", ["v1", "v2"])
def test_a_fixed_setting_never_reads_info_nor_switches(setting: str) -> None:
    info = Info(SMITHDB)
    choice = QueryApiChoice(setting, info)
    gone = QueryApiGone(410, "removed")
    assert choice.current() is QueryApi(setting)
    assert choice.gone(QueryApi(setting), gone) is None
    assert choice.current() is QueryApi(setting) and info.reads == 0


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, v1 or v2"):
        QueryApiChoice("v3", Info(SMITHDB))


class Api:
    """A run-query API whose answers a test scripts: pages, or QueryApiGone at a given page."""

    page_size = 1000

    def __init__(self, pages: list[list[FoundRun]], gone_at: int | None = None) -> None:
        self.pages = pages
        self.gone_at = gone_at
        self.opened = 0

    def _stream(self) -> Iterator[list[FoundRun]]:
        self.opened += 1
        for n, page in enumerate(self.pages):
            if n == self.gone_at:
                raise QueryApiGone(410, "v1 run queries were removed")
            yield page
        if self.gone_at == len(self.pages):
            raise QueryApiGone(410, "v1 run queries were removed")

    def find_traces(self, project_id: str, pairs: Pairs, window: Window) -> Iterator[list[FoundRun]]:
        return self._stream()

    def existing_traces(self, project_id: str, trace_ids: list[str], window: Window) -> Iterator[list[FoundRun]]:
        return self._stream()


RUN = FoundRun("0c6f5f8e-0000-4000-8000-000000000001", "0c6f5f8e-0000-4000-8000-0000000000aa", NOW)


def test_a_lookup_switches_api_when_its_first_page_is_gone_and_notes_who_answered() -> None:
    v1, v2 = Api([[RUN]], gone_at=0), Api([[RUN], [RUN]])
    choice = QueryApiChoice("auto", Info(CLICKHOUSE))
    lookup = RunLookup(choice, {QueryApi.V1: v1, QueryApi.V2: v2})
    assert list(lookup.find_traces("p", [("user_id", "1")], WINDOW)) == [[RUN], [RUN]]
    assert lookup.answered == {QueryApi.V2}
    assert choice.current() is QueryApi.V2  # the next lookup starts on v2


def test_gone_after_the_first_page_raises_and_the_next_lookup_uses_the_other_api() -> None:
    v1, v2 = Api([[RUN], [RUN]], gone_at=1), Api([[RUN]])
    choice = QueryApiChoice("auto", Info(CLICKHOUSE))
    lookup = RunLookup(choice, {QueryApi.V1: v1, QueryApi.V2: v2})
    pages = lookup.existing_traces("p", ["t"], WINDOW)
    assert next(pages) == [RUN]
    with pytest.raises(QueryApiGone):
        next(pages)  # never "nothing more found"
    assert choice.current() is QueryApi.V2
    assert list(RunLookup(choice, {QueryApi.V1: v1, QueryApi.V2: v2}).existing_traces("p", ["t"], WINDOW)) == [[RUN]]


def test_with_a_fixed_setting_a_gone_api_is_an_error_not_an_empty_answer() -> None:
    v2 = Api([], gone_at=0)
    lookup = RunLookup(QueryApiChoice("v2", Info(SMITHDB)), {QueryApi.V1: Api([[RUN]]), QueryApi.V2: v2})
    with pytest.raises(QueryApiGone):
        list(lookup.find_traces("p", [("user_id", "1")], WINDOW))
    assert lookup.answered == set()


def test_an_empty_answer_still_counts_as_answered() -> None:
    lookup = RunLookup(QueryApiChoice("v2", Info(SMITHDB)), {QueryApi.V1: Api([]), QueryApi.V2: Api([])})
    assert list(lookup.find_traces("p", [("user_id", "1")], WINDOW)) == []
    assert lookup.answered == {QueryApi.V2}
