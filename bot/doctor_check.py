"""One line of ``purgebot doctor``: what was checked, whether it passed, and how to fix it if not.

Kept apart from the checks so the LangSmith and Slack halves (``doctor_langsmith``, ``doctor_slack``)
and the command that prints them (``doctor``) share one shape without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Check", "Lines", "Status"]


class Status(StrEnum):
    OK = "ok"
    FAIL = "FAIL"
    SKIPPED = "--"  # not checked because an earlier check of the same subject failed


@dataclass(frozen=True)
class Check:
    """``subject`` is what was checked (``langsmith prod-us``, ``slack``), ``name`` the check, and
    ``detail`` what was found — for a failure, what is wrong and how to fix it."""

    subject: str
    name: str
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    def line(self) -> str:
        return f"{self.status.value:<4} {self.subject}: {self.name}: {self.detail}"


class Lines:
    """The checks of one subject, in order; after a failure the checks that depend on it are skipped."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.checks: list[Check] = []

    def ok(self, name: str, detail: str) -> None:
        self.checks.append(Check(self.subject, name, Status.OK, detail))

    def fail(self, name: str, detail: str) -> None:
        self.checks.append(Check(self.subject, name, Status.FAIL, detail))

    def skip(self, names: Iterable[str], why: str) -> None:
        self.checks.extend(Check(self.subject, name, Status.SKIPPED, f"not checked: {why}") for name in names)
