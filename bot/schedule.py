"""When scheduled checks run: ``PURGEBOT_VERIFY_AT`` and its arithmetic (DESIGN.md "When checks run").

Pure: the caller passes the moments in. Inputs must be timezone-aware; results are aware UTC, which
is what the checks table stores.

Decisions where the contract is silent:

- ``<day> <HH:MM>`` is strict: three-letter day names (any case), two-digit hour and minute.
- "After the end of the weekend" includes the end itself: with ``mon 00:00`` a Friday submission is
  checked at the coming Monday 00:00, not a week later. A weekend that ends exactly at submission
  does not end *after* it, so a submission at Monday 00:00 waits for the next weekend, like 08:59.
- A re-check follows the same rule from the previous check: the first rule moment after the first
  weekend that ends after it. Deletes re-sent at a check are processed on the next weekend, so from
  a check at its scheduled moment this is exactly a week later, in wall-clock time (09:00 stays
  09:00 across DST); from a check that ran late (the bot was down), it is the next one after the
  coming weekend rather than a full week later.
- A wall-clock time that does not exist (DST gap, e.g. ``sun 02:30`` on a spring-forward Sunday) is
  read with the offset before the gap, which lands it as far past the gap's start: 03:30 new time.
  A time that exists twice (fall back) is the first of the two (``fold=0``).
- ``+<n><unit>`` is elapsed time (``+1d`` is 24 hours, even across DST) and at most 365 days, so
  the arithmetic can never overflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_RECHECKS = 3
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVAL = timedelta(days=365)
SYNTAX = (
    "`<day> <HH:MM>` (mon, tue, wed, thu, fri, sat or sun, then a 24-hour time, e.g. `mon 09:00`) "
    "or `+<n><unit>` (n at least 1, unit s, m, h or d, e.g. `+30m`)"
)

_UNITS = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(1)}
_INTERVAL = re.compile(r"\+([0-9]{1,9})([smhd])")
_WEEKLY = re.compile(r"(\S+)\s+(\S+)")
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True, slots=True)
class WeeklyAt:
    """Check at ``at`` local time on ``weekday`` (0 = Monday) after the weekend."""

    weekday: int
    at: time


@dataclass(frozen=True, slots=True)
class Every:
    """Check ``interval`` after submission, then ``interval`` after each check."""

    interval: timedelta


VerifyAt = WeeklyAt | Every


def parse_verify_at(text: str) -> VerifyAt:
    """Parse a ``PURGEBOT_VERIFY_AT`` value; ValueError names the expected syntax and what is wrong."""
    value = text.strip()
    if value.startswith("+"):
        match = _INTERVAL.fullmatch(value)
        if match is None:
            raise _syntax_error(text, "an interval is + then a whole number then s, m, h or d")
        interval = int(match[1]) * _UNITS[match[2]]
        if not timedelta(0) < interval <= MAX_INTERVAL:
            raise _syntax_error(text, "the interval must be at least 1 and at most 365d")
        return Every(interval)
    match = _WEEKLY.fullmatch(value)
    if match is None:
        raise _syntax_error(text, "give a day and a time, or an interval")
    day, at = match[1].lower(), _TIME.fullmatch(match[2])
    if day not in DAYS:
        raise _syntax_error(text, f"{match[1]!r} is not one of mon, tue, wed, thu, fri, sat, sun")
    if at is None:
        raise _syntax_error(text, f"{match[2]!r} is not a 24-hour time HH:MM with two-digit hour, e.g. 09:00")
    return WeeklyAt(DAYS.index(day), time(int(at[1]), int(at[2])))


def first_check_at(submitted_at: datetime, rule: VerifyAt, tz: ZoneInfo) -> datetime:
    """When the first scheduled check of a request that became ``submitted`` at ``submitted_at`` runs."""
    _require_aware(submitted_at)
    if isinstance(rule, Every):
        return submitted_at.astimezone(UTC) + rule.interval
    local = submitted_at.astimezone(tz)
    weekend_end = local.date() + timedelta(days=7 - local.weekday())  # a Monday, strictly later
    check_day = weekend_end + timedelta(days=rule.weekday)
    return datetime.combine(check_day, rule.at, tzinfo=tz).astimezone(UTC)


def next_check_at(previous_check_at: datetime, rule: VerifyAt, tz: ZoneInfo) -> datetime:
    """When the re-check after the scheduled check at ``previous_check_at`` runs (module notes)."""
    return first_check_at(previous_check_at, rule, tz)


def _require_aware(moment: datetime) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime")


def _syntax_error(text: str, problem: str) -> ValueError:
    return ValueError(f"expected {SYNTAX}, got {text!r}: {problem}")
