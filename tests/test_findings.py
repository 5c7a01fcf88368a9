"""What a check records of each thing it looked at, summed over the workspaces it looked in."""

from __future__ import annotations

from bot.findings import Findings, by_target
from storage import checks
from storage.items import Found


def test_by_target_sums_each_target_over_workspaces_in_the_order_first_looked_at() -> None:
    left = [Found("t-1", "p")]
    findings = [
        Findings(checks.TRACES, checked=3, remaining=left, workspace="prod-us"),
        Findings(checks.EXAMPLES, checked=2, workspace="prod-us"),
        Findings(checks.TRACES, checked=4, remaining=left * 2, workspace="prod-eu"),
        Findings(checks.EXAMPLES, checked=0, workspace="prod-eu"),
    ]

    assert list(by_target(findings).items()) == [(checks.TRACES, (7, 3)), (checks.EXAMPLES, (2, 0))]
