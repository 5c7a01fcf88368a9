"""``purgebot demo``, read as a person would: each bot message under the step that caused it, every time;
the headline metadata purge with its values masked; the report as a compliance officer reads it."""

from __future__ import annotations

import io
import itertools
import re

import pytest

from bot.demo import run_demo

RUNS = 20
# A step begins at a person's line ("#privacy-requests  bob: clicks [Approve]") or at a narrator's line
# ("— The clock moves …"); what the bot says in answer must come after it and before the next step.
STEP = re.compile(r"^(#[\w-]+  \w+: .*|— .*)$", re.MULTILINE)
NEXT_LINE = "\n      "  # a message's body lines are indented under its header
# Words found once in a whole transcript (or once per channel), each in what one step caused.
CAUSED_BY = {
    "alice: /purge metadata user_id=123": [
        "Filing a subject purge of traces and dataset examples matching `user_id` = `•••23`",
        f"also sent for these pairs.{NEXT_LINE}[Approve] [Reject] [Show values]",
    ],
    "alice: clicks [Approve] on her own request": ["so you can't approve it"],
    "carol: clicks [Approve]": ["Only approvers can approve"],
    "bob: clicks [Approve]": [
        "Approved by @bob. Sending the deletes",
        "40 of 40 trace IDs accepted by LangSmith (2 of 2 batches",
        "PURGE-1 is *submitted*",
        "*Approved* by @bob. Now deletes accepted by LangSmith",
        "PURGE-1: 0 of 4 examples remain.",  # checked at once: in the thread and in #compliance
    ],
    "alice: /purge verify PURGE-1": ["Checking PURGE-1 now", "Manual check of PURGE-1: 40 of 40 traces still present"],
    "alice: /purge traces prod-chat": [
        "Filing a purge of 9 trace IDs",
        f"weekend delete job.{NEXT_LINE}[Approve] [Reject] [Show values]",
    ],
    "dave: clicks [Approve] on PURGE-2": [
        "Approved by @dave. Sending the deletes",
        "PURGE-2 is *submitted*",
        "*Approved* by @dave. Now deletes accepted by LangSmith",
    ],
    "— The clock moves": [
        "*PURGE-1 verified*: 0 of 40 traces remain",
        "*PURGE-2 verified*: 0 of 8 traces remain",
        "*Approved* by @bob. Now *verified*",
        "*Approved* by @dave. Now *verified*",
        "Evidence report of PURGE-1",
        "Evidence report of PURGE-2",
    ],
    "alice: /purge status PURGE-1": ["PURGE-1: verified", "Scheduled check of traces, due "],
}


def steps(transcript: str) -> dict[str, str]:
    """Each step's first line, and everything printed from it up to the next step."""
    starts = [match.start() for match in STEP.finditer(transcript)] + [len(transcript)]
    blocks = [transcript[a:b] for a, b in itertools.pairwise(starts)]
    return {block.splitlines()[0]: block for block in blocks}


def misplaced(transcript: str) -> list[str]:
    """Each answer that is missing from its step or also shows up under another one."""
    found = steps(transcript)
    problems = []
    for step, answers in CAUSED_BY.items():
        block = next((text for first, text in found.items() if step in first), None)
        if block is None:
            problems.append(f"no step {step!r}")
            continue
        for answer in answers:
            if answer not in block or transcript.count(answer) != block.count(answer):
                problems.append(f"{answer!r} is not (only) under {step!r}")
    return problems


def test_every_bot_message_follows_the_step_that_caused_it_in_twenty_runs() -> None:
    for run in range(RUNS):
        out = io.StringIO()
        assert run_demo(out) == 0, out.getvalue()
        transcript = out.getvalue()
        problems = misplaced(transcript)
        assert problems == [], f"run {run + 1}: {problems}\n{transcript}"


@pytest.fixture(scope="module")
def transcript() -> str:
    out = io.StringIO()
    assert run_demo(out) == 0, out.getvalue()
    return out.getvalue()


def test_the_subjects_value_shows_only_in_the_command_alice_typed(transcript: str) -> None:
    showing = [line for line in transcript.splitlines() if re.search(r"\b123\b", line)]
    assert showing == ['#privacy-requests  alice: /purge metadata user_id=123 --reason "DSR-1042" --ticket DSR-1042']
    assert "`user_id` = `•••23`" in steps(transcript)["#privacy-requests  bob: clicks [Approve]"]


def test_the_request_message_keeps_counts_only_once_verified(transcript: str) -> None:
    final = transcript.rsplit("*PURGE-1* — subject purge", 1)[1].split("\n  #", 1)[0]
    assert "matching 1 pair, filed by @alice" in final and "Now *verified*" in final
    assert "•••" not in final and "[Show values]" not in final


def test_the_report_is_the_headline_requests_read_as_words(transcript: str) -> None:
    page = transcript.split("PURGE-1-evidence.md reads:", 1)[1].split("Audit chain:", 1)[0]
    assert "| Requested by | alice (U0ALICE), " in page and "| Decision | approved by bob (U0BOB), " in page
    checks = [line for line in page.splitlines() if re.match(r"\s*\| \d+ \((manual|scheduled)\)", line)]
    assert [re.findall(r"\((\w+)\) \| ([\w ]+?) \|", line)[0] for line in checks] == [
        ("scheduled", "examples"),
        ("manual", "traces and examples"),
        ("scheduled", "traces"),
        ("scheduled", "examples"),
    ]
    assert "| 40 (traces 40, examples 0) |" in checks[1] and "| not run (dropped) |" in checks[3]
    assert " 09:00 UTC | " in checks[2] and not re.search(r"\b(True|False|None)\b", page)
    assert re.search(r"^Audit chain: intact, head \d+:[0-9a-f]{64}$", transcript, re.MULTILINE)
