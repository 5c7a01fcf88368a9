"""``purgebot demo``, read as a person would: each bot message under the step that caused it, every time."""

from __future__ import annotations

import io
import itertools
import re

from bot.demo import run_demo

RUNS = 20
# A step begins at a person's line ("#privacy-requests  bob: clicks [Approve]") or at a narrator's line
# ("— The clock moves …"); what the bot says in answer must come after it and before the next step.
STEP = re.compile(r"^(#[\w-]+  \w+: .*|— .*)$", re.MULTILINE)
CAUSED_BY = {
    "alice: /purge traces": ["Filing a purge of 41 trace IDs", "[Approve] [Reject]"],
    "alice: clicks [Approve] on her own request": ["so you can't approve it"],
    "carol: clicks [Approve]": ["Only approvers can approve"],
    "bob: clicks [Approve]": [
        "Approved by @bob. Sending the deletes",
        "*Deletes sent:*",
        "PURGE-1 is *submitted*",
        "Now deletes accepted by LangSmith",
    ],
    "alice: /purge verify PURGE-1": ["Checking PURGE-1 now", "Manual check of PURGE-1"],
    "— The clock moves": ["*PURGE-1 verified*", "Evidence report of PURGE-1"],
    "alice: /purge status PURGE-1": ["PURGE-1: verified"],
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
