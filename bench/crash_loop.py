"""Crash loop: kill -9 ``purgebot serve`` at random points of a 20,000-trace purge, and lose nothing.

    python bench/crash_loop.py --trials 20 --seed 7 [--servers 2] [--kill group|listener|worker|mix]

Each trial starts fresh stand-ins and a fresh SQLite file, seeds ``--traces`` traces of one data
subject over ``--projects`` projects (plus unrelated traces), files ``/purge metadata user_id=…`` over
signed HTTP, approves it, and kills the real server process with SIGKILL 1…``--max-kills`` times at
seeded random points — during the preview's search, between or during the delete batches, or just
after ``submitted`` — restarting it on the same file each time. ``serve`` is two processes (the
listener and its worker): ``--kill`` picks what each kill ends — the process group (default), the
listener alone (its worker exits at once), the worker alone (the listener starts another), or a
seeded mix. With ``--servers 2`` two servers
share the file, as during a rolling deploy, and each kill picks one of them at random: the fenced
leases keep one request with one holder, so the same invariants hold. After the last restart it checks,
from the SQLite file and the stand-ins' call logs:

- the request is ``submitted`` and unclaimed; the approved set is exactly the subject's traces;
- the union of trace IDs in accepted (202) delete calls is the approved set; no unrelated trace
  was sent; every delete call is one stored batch (nothing re-cut);
- every batch row is ``sent`` with one ``batch_sent`` event; re-sent calls ≤ kills x concurrency, and
  only batches whose call a killed process made but never recorded as answered ("unanswered") are
  sent again;
- the scheduled check row is pending; the event chain is intact; ``PRAGMA integrity_check`` is ok;
- no Slack message was posted twice (outbox ids in message metadata are unique);
- each restart after a kill that left a claim took it over at once (not after the 60 s lease);

then the downtime check: the server is stopped, LangSmith's weekend job runs, the check's due time
is moved into the past while nothing runs, the server starts → the check runs → ``verified``,
announced once in the compliance channel. Why a metadata request, and why the due time is moved in
the file rather than with a short ``PURGEBOT_VERIFY_AT``: see ``bot/sandbox/crash.py``.

Prints one row per trial (kills, where each landed as read from the dead process's file, batches,
delete calls left unanswered by the kills, calls re-sent, the bound, the downtime check, seconds)
and a summary line; exits 1 if any invariant failed in any trial (their messages follow the table).
The same trial code runs in CI for a few trials (``tests/test_crash_loop.py``). On 2 cores the
default 20 trials take about 3½ minutes.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from bot.sandbox.crash import run_trial
from bot.sandbox.crash_plan import GROUP, MIX, TARGETS, TrialConfig, TrialResult

HEADER = f"{'trial':>5}  {'kills':>5}  {'where killed':<60}  {'batches':>7}  {'unanswered':>10}  {'re-sent':>7}  " + (
    f"{'bound':>5}  {'downtime check':<32}  {'seconds':>7}"
)


def row(result: TrialResult) -> str:
    wheres = result.kills or ["-"]
    mark = "" if result.ok else "  FAILED"
    first = (
        f"{result.trial:>5}  {len(result.kills):>5}  {wheres[0]:<60}  {result.batches:>7}  {result.unanswered:>10}  "
        f"{result.duplicates:>7}  "
        f"{result.bound:>5}  {result.downtime or '-':<32}  {result.seconds:>7.1f}{mark}"
    )
    return "\n".join([first, *(f"{'':>5}  {'':>5}  {where}" for where in wheres[1:])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--traces", type=int, default=20_000, help="traces of the subject")
    parser.add_argument("--projects", type=int, default=3, help="projects the subject's traces are spread over")
    parser.add_argument("--max-kills", type=int, default=3, help="kills per trial: 1 to this many")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.02,
        help="seconds the LangSmith stand-in takes per call, from the approval on",
    )
    parser.add_argument("--search-latency", type=float, default=0.0, help="the same for the preview's search")
    parser.add_argument("--concurrency", type=int, default=4, help="PURGEBOT_DELETE_CONCURRENCY")
    parser.add_argument(
        "--servers", type=int, choices=(1, 2), default=1, help="purgebot serve processes on the one file"
    )
    parser.add_argument(
        "--kill",
        choices=(*TARGETS, MIX),
        default=GROUP,
        help="what each kill -9 ends: the process group, the listener alone, the worker alone, or a random mix",
    )
    parser.add_argument("--keep", type=Path, help="keep each trial's database and server log under this directory")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit)  # so a trial's ``finally`` kills its server process
    config = TrialConfig(
        traces=args.traces,
        projects=args.projects,
        max_kills=args.max_kills,
        latency=args.latency,
        search_latency=args.search_latency,
        concurrency=args.concurrency,
        servers=args.servers,
        kill=args.kill,
    )
    print(
        f"crash loop: {args.trials} trials, seed {args.seed}, {config.traces:,} traces in {config.projects} projects, "
        f"up to {config.max_kills} kills, {config.latency * 1000:g} ms per LangSmith call from the approval on, "
        f"{config.concurrency} deletes in flight, {config.servers} server(s) on one file, kills of: {config.kill}",
        flush=True,
    )
    print(HEADER, flush=True)
    results = []
    started = time.monotonic()
    for trial in range(1, args.trials + 1):
        if args.keep:
            workdir = args.keep / f"trial-{trial}"
            workdir.mkdir(parents=True, exist_ok=True)
            result = run_trial(trial, args.seed, config, workdir)
        else:
            with tempfile.TemporaryDirectory(prefix="purgebot-crash-") as folder:
                result = run_trial(trial, args.seed, config, Path(folder))
        results.append(result)
        print(row(result), flush=True)
    failed = [r for r in results if not r.ok]
    kills = sum(len(r.kills) for r in results)
    print(
        f"{len(results)} trials, {kills} kills, {sum(r.unanswered for r in results)} delete calls left unanswered, "
        f"{sum(r.duplicates for r in results)} calls re-sent "
        f"(bound {sum(r.bound for r in results)}), {sum(r.takeovers for r in results)} takeovers, "
        f"{len(failed)} trials failed, {time.monotonic() - started:.0f}s",
        flush=True,
    )
    for result in failed:
        print(f"\n--- trial {result.trial} (trial seed {result.seed}) failed:", file=sys.stderr)
        for failure in result.failures:
            print(f"  - {failure}", file=sys.stderr)
    return 1 if failed else 0


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
