"""Query windows: what a query must look at to see what was approved, and when a window falls short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.findings import CannotVerify, Findings, Looker
from bot.langsmith import Window, window_for
from bot.langsmith.query_api import QueryApiChoice, RunLookup
from bot.langsmith.window import MARGIN, parse_start
from storage import checks

NOW = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
LOOKBACK = timedelta(days=400)


def test_nothing_known_looks_back_over_all_of_the_retention() -> None:
    assert window_for([], now=NOW, lookback=LOOKBACK) == Window(NOW - LOOKBACK, NOW)


def test_known_starts_give_a_day_before_the_earliest_to_the_latest() -> None:
    starts = [NOW - timedelta(days=3), NOW - timedelta(days=30), NOW - timedelta(hours=1)]
    assert window_for(starts, now=NOW, lookback=LOOKBACK) == Window(NOW - timedelta(days=31), NOW - timedelta(hours=1))


def test_one_unknown_start_looks_back_all_the_way() -> None:
    assert window_for([NOW - timedelta(days=3), None], now=NOW, lookback=LOOKBACK) == Window(NOW - LOOKBACK, NOW)


def test_a_trace_older_than_the_lookback_is_still_covered() -> None:
    ancient = NOW - timedelta(days=900)
    assert window_for([ancient], now=NOW, lookback=LOOKBACK).start == ancient - MARGIN


@given(
    st.lists(
        st.one_of(st.none(), st.integers(min_value=-2000 * 24, max_value=48).map(lambda h: NOW + timedelta(hours=h))),
        max_size=20,
    )
)
def test_the_query_window_always_covers_every_known_start(starts: list[datetime | None]) -> None:
    needed = window_for(starts, now=NOW, lookback=LOOKBACK)
    query = needed.until(NOW)
    assert query.covers(needed)
    assert query.end >= NOW
    for start in starts:
        if start is not None:
            assert query.start <= start - MARGIN or query.start <= NOW - LOOKBACK


def test_a_window_that_starts_later_does_not_cover() -> None:
    needed = Window(NOW - timedelta(days=3), NOW)
    assert not Window(NOW - timedelta(days=1), NOW).covers(needed)  # v2's default: the last day
    assert not Window(NOW - timedelta(days=5), NOW - timedelta(days=1)).covers(needed)
    assert Window(NOW - timedelta(days=5), NOW).covers(needed)


def test_windows_refuse_naive_or_reversed_bounds() -> None:
    with pytest.raises(ValueError, match="time-zone"):
        Window(datetime(2027, 1, 1), NOW)
    with pytest.raises(ValueError, match="end before"):
        Window(NOW, NOW - timedelta(seconds=1))


def test_the_wire_form_states_both_bounds_in_utc() -> None:
    window = Window(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), NOW)
    assert window.as_dict() == {"min_start_time": "2026-01-02T03:04:05Z", "max_start_time": "2027-01-15T09:00:00Z"}


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-01T10:00:00.123456", datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01T11:00:00+01:00", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_start_times_as_langsmith_writes_them(text: object, moment: datetime | None) -> None:
    assert parse_start(text) == moment


def test_a_look_whose_window_falls_short_gives_no_verdict() -> None:
    lookup = RunLookup(QueryApiChoice("v2", dict), {})
    nothing_left = Findings(checks.TRACES, checked=3)
    needed = Window(NOW - timedelta(days=4), NOW - timedelta(days=3))
    with pytest.raises(CannotVerify, match="does not reach the approved traces"):
        Looker._certified(nothing_left, lookup, Window(NOW - timedelta(days=1), NOW), needed)
    certified = Looker._certified(nothing_left, lookup, Window(NOW - timedelta(days=5), NOW), needed)
    assert certified.window == Window(NOW - timedelta(days=5), NOW) and certified.remaining == []
