"""Check-time arithmetic of DESIGN.md "When checks run", including DST weeks and gaps."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.schedule import (
    MAX_RECHECKS,
    Every,
    WeeklyAt,
    first_check_at,
    next_check_at,
    parse_verify_at,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MON_0900 = WeeklyAt(0, time(9, 0))


def local(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- parse_verify_at ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("mon 09:00", MON_0900),
        ("MON 09:00", MON_0900),
        ("  Mon   09:00 ", MON_0900),
        ("tue 00:00", WeeklyAt(1, time(0, 0))),
        ("wed 23:59", WeeklyAt(2, time(23, 59))),
        ("thu 12:30", WeeklyAt(3, time(12, 30))),
        ("fri 17:05", WeeklyAt(4, time(17, 5))),
        ("sat 10:00", WeeklyAt(5, time(10, 0))),
        ("sun 02:30", WeeklyAt(6, time(2, 30))),
        ("+1s", Every(timedelta(seconds=1))),
        ("+30m", Every(timedelta(minutes=30))),
        ("+12h", Every(timedelta(hours=12))),
        ("+3d", Every(timedelta(days=3))),
        ("+365d", Every(timedelta(days=365))),
    ],
)
def test_parse_verify_at_accepts(text: str, rule: WeeklyAt | Every) -> None:
    assert parse_verify_at(text) == rule


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "give a day and a time"),
        ("mon 9:00", "two-digit hour"),
        ("mon 24:00", "'24:00' is not a 24-hour time"),
        ("mon 09:60", "'09:60' is not"),
        ("mon 0900", "'0900' is not"),
        ("mon 9am", "'9am' is not"),
        ("funday 09:00", "'funday' is not one of mon"),
        ("monday 09:00", "'monday' is not one of mon"),
        ("mon", "give a day and a time"),
        ("mon 09:00 UTC", "give a day and a time"),
        ("+0d", "at least 1"),
        ("+366d", "at most 365d"),
        ("+5w", "s, m, h or d"),
        ("+5D", "s, m, h or d"),
        ("+d", "whole number"),
        ("+1.5h", "whole number"),
        ("+9999999999d", "whole number"),
        ("5d", "give a day and a time"),
    ],
)
def test_parse_verify_at_refuses_with_the_expected_syntax(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match="expected `<day> <HH:MM>`") as caught:
        parse_verify_at(text)
    assert problem in str(caught.value)
    assert repr(text) in str(caught.value)


# --- weekly rule: which weekend --------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "expected"),
    [
        ("2026-11-27T17:00", "2026-11-30T09:00"),  # Friday evening -> the coming Monday
        ("2026-11-28T02:00", "2026-11-30T09:00"),  # Saturday
        ("2026-11-29T23:59", "2026-11-30T09:00"),  # Sunday, last minute
        ("2026-11-30T00:00", "2026-12-07T09:00"),  # the weekend ended exactly now, not after
        ("2026-11-30T08:59", "2026-12-07T09:00"),  # Monday before 09:00: weekend already over
        ("2026-11-30T09:01", "2026-12-07T09:00"),
        ("2026-12-01T12:00", "2026-12-07T09:00"),  # Tuesday
        ("2026-12-03T23:00", "2026-12-07T09:00"),  # Thursday
    ],
)
def test_mon_0900_first_check(submitted: str, expected: str) -> None:
    assert first_check_at(local(submitted), MON_0900, BERLIN) == local(expected)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("mon", "2026-11-30"),
        ("tue", "2026-12-01"),
        ("wed", "2026-12-02"),
        ("thu", "2026-12-03"),
        ("fri", "2026-12-04"),
        ("sat", "2026-12-05"),
        ("sun", "2026-12-06"),  # a Saturday submission is not checked on that weekend's Sunday
    ],
)
def test_every_weekday_counts_from_the_end_of_the_weekend(day: str, expected: str) -> None:
    rule = parse_verify_at(f"{day} 10:00")
    saturday = local("2026-11-28T11:00")
    assert first_check_at(saturday, rule, BERLIN) == local(f"{expected}T10:00")


def test_mon_midnight_is_the_end_of_the_weekend_itself() -> None:
    friday = local("2026-11-27T17:00")
    assert first_check_at(friday, parse_verify_at("mon 00:00"), BERLIN) == local("2026-11-30T00:00")


def test_submission_is_read_in_the_configured_zone() -> None:
    sunday_utc = utc("2026-11-29T23:30")  # already Monday 00:30 in Berlin: that weekend is over
    assert first_check_at(sunday_utc, MON_0900, BERLIN) == local("2026-12-07T09:00")
    assert first_check_at(sunday_utc, MON_0900, ZoneInfo("UTC")) == utc("2026-11-30T09:00")


def test_result_is_utc() -> None:
    result = first_check_at(local("2026-11-27T17:00"), MON_0900, BERLIN)
    assert result.tzinfo is UTC
    assert result == utc("2026-11-30T08:00")


# --- weekly rule: re-checks and DST -----------------------------------------------------------


def test_rechecks_follow_a_week_apart() -> None:
    first = first_check_at(local("2026-11-27T17:00"), MON_0900, BERLIN)
    checks = [first]
    for _ in range(MAX_RECHECKS):
        checks.append(next_check_at(checks[-1], MON_0900, BERLIN))
    mondays = ("2026-11-30", "2026-12-07", "2026-12-14", "2026-12-21")
    assert checks == [local(day + "T09:00") for day in mondays]


def test_recheck_after_a_late_check_waits_for_the_coming_weekend_only() -> None:
    ran_late_on_wednesday = local("2026-12-02T15:00")
    assert next_check_at(ran_late_on_wednesday, MON_0900, BERLIN) == local("2026-12-07T09:00")


def test_sunday_rule_rechecks_a_week_apart() -> None:
    rule = parse_verify_at("sun 10:00")
    assert next_check_at(local("2026-12-06T10:00"), rule, BERLIN) == local("2026-12-13T10:00")


def test_berlin_autumn_dst_end_keeps_wall_clock_time() -> None:
    # 2026-10-25: 03:00 CEST -> 02:00 CET.
    first = first_check_at(local("2026-10-23T18:00"), MON_0900, BERLIN)
    assert first == utc("2026-10-26T08:00")  # 09:00 CET
    previous = utc("2026-10-19T07:00")  # Monday 09:00 CEST
    assert next_check_at(previous, MON_0900, BERLIN) == utc("2026-10-26T08:00")


def test_berlin_spring_dst_start_keeps_wall_clock_time() -> None:
    # 2027-03-28: 02:00 CET -> 03:00 CEST.
    first = first_check_at(local("2027-03-26T18:00"), MON_0900, BERLIN)
    assert first == utc("2027-03-29T07:00")  # 09:00 CEST
    assert next_check_at(utc("2027-03-22T08:00"), MON_0900, BERLIN) == first


def test_new_york_weeks_around_both_changes() -> None:
    fri_before_spring = local("2027-03-12T18:00", NEW_YORK)
    assert first_check_at(fri_before_spring, MON_0900, NEW_YORK) == utc("2027-03-15T13:00")  # EDT
    fri_before_fall = local("2026-10-30T18:00", NEW_YORK)
    assert first_check_at(fri_before_fall, MON_0900, NEW_YORK) == utc("2026-11-02T14:00")  # EST


def test_time_in_a_dst_gap_lands_past_the_gap() -> None:
    # 2027-03-14 in New York: 02:00 EST -> 03:00 EDT, so 02:30 does not exist; it becomes 03:30 EDT.
    rule = parse_verify_at("sun 02:30")
    first = first_check_at(local("2027-03-06T12:00", NEW_YORK), rule, NEW_YORK)  # a Saturday
    assert first == utc("2027-03-14T07:30")
    assert first.astimezone(NEW_YORK).time() == time(3, 30)
    # The week after, the rule's own time applies again.
    assert next_check_at(first, rule, NEW_YORK).astimezone(NEW_YORK) == local("2027-03-21T02:30", NEW_YORK)


def test_time_in_a_dst_gap_in_berlin() -> None:
    rule = parse_verify_at("sun 02:30")
    first = first_check_at(local("2027-03-20T12:00"), rule, BERLIN)
    assert first == utc("2027-03-28T01:30")  # 03:30 CEST


def test_ambiguous_fall_back_time_is_the_first_occurrence() -> None:
    # 2026-11-01 in New York: 01:30 happens twice (EDT, then EST); the first (EDT) is used.
    rule = parse_verify_at("sun 01:30")
    first = first_check_at(local("2026-10-24T12:00", NEW_YORK), rule, NEW_YORK)
    assert first == utc("2026-11-01T05:30")


# --- interval rule -----------------------------------------------------------------------------


def test_interval_first_check_and_rechecks() -> None:
    rule = parse_verify_at("+10m")
    submitted = utc("2026-11-27T17:00")
    first = first_check_at(submitted, rule, BERLIN)
    assert first == utc("2026-11-27T17:10")
    assert next_check_at(first, rule, BERLIN) == utc("2026-11-27T17:20")


def test_interval_is_elapsed_time_across_dst() -> None:
    before_fall_back = local("2026-10-24T12:00")  # CEST
    assert first_check_at(before_fall_back, parse_verify_at("+1d"), BERLIN) == local("2026-10-25T11:00")


# --- inputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [MON_0900, Every(timedelta(hours=1))])
def test_naive_datetimes_are_refused(rule: WeeklyAt | Every) -> None:
    naive = datetime(2026, 11, 27, 17, 0)
    with pytest.raises(ValueError, match="no time zone"):
        first_check_at(naive, rule, BERLIN)
    with pytest.raises(ValueError, match="no time zone"):
        next_check_at(naive, rule, BERLIN)
