"""``python3 -m asgisim run``: the sweep itself, streamed, time-boxed and interruptible.

Seeds are generated one at a time (``--seeds 1e9`` and an open-ended ``--duration`` cost
the same memory as ``--seeds 100``) and reported in seed order, so what ran is always a
prefix of the shard's seed indices and the report names it exactly. A SIGINT or SIGTERM
stops the sweep (see interruption.py); a forked run that crashes is reported with its
seed and the line that reproduces it, and the sweep goes on.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional

from . import forking, regressions, reports
from .interruption import SweepControl, parse_duration
from .spec import UsageError

# Crashed runs printed (and kept for JSON and JUnit) in full; the others are counted.
CRASHES_LISTED_MAX = 10


@dataclass
class SeedPlan:
    """Which seeds a run sweeps: shard K/N of indices [0, cap) from the base; cap None is endless."""
    base: int
    cap: Optional[int]
    shard_k: int = 1
    shard_n: int = 1
    single: Optional[int] = None  # --seed

    def seeds(self) -> Iterator[int]:
        if self.single is not None:
            yield self.single
            return
        index = self.shard_k - 1
        while self.cap is None or index < self.cap:
            yield self.base + index
            index += self.shard_n

    def count(self) -> Optional[int]:
        """How many seeds the shard has; None when endless."""
        if self.single is not None:
            return 1
        if self.cap is None:
            return None
        return (self.cap - self.shard_k) // self.shard_n + 1 if self.cap >= self.shard_k else 0

    def covered(self, seeds_run: int) -> int:
        """The ``--seeds`` that repeats the first ``seeds_run`` seeds of this shard."""
        return 0 if seeds_run == 0 else self.shard_k + (seeds_run - 1) * self.shard_n

    def ran(self, seeds_run: int) -> str:
        """'seed indices 0..99 (100 seeds)', 'seed indices 1, 4, .. 28 of shard 2/3 (10 seeds)'."""
        if seeds_run == 0:
            return "no seeds"
        if self.single is not None:
            return f"seed {self.single}"
        last = self.covered(seeds_run) - 1
        count = reports.plural(seeds_run, "seed")
        if self.shard_n == 1:
            return f"seed indices 0..{last} ({count})"
        first, shard = self.shard_k - 1, f"{self.shard_k}/{self.shard_n}"
        return f"seed indices {first}, {first + self.shard_n}, .. {last} of shard {shard} ({count})"


def seed_plan(args: argparse.Namespace) -> SeedPlan:
    if args.seed is not None:
        return SeedPlan(base=args.seed, cap=1, single=args.seed)
    try:
        k, n = (int(x) for x in args.shard.split("/"))
    except ValueError:
        raise UsageError(f"--shard {args.shard}: expected K/N, e.g. 2/8") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard {args.shard}: K must be between 1 and N")
    if (args.seeds is not None and args.seeds < 1) or args.jobs < 1:
        raise UsageError("--seeds and --jobs must be at least 1")
    cap = args.seeds if args.seeds is not None else (None if args.duration else 100)
    return SeedPlan(base=args.seed_base, cap=cap, shard_k=k, shard_n=n)


@dataclass
class Tally:
    """What the sweep found so far, kept in constant memory."""
    seeds_run: int = 0
    failures: int = 0
    worst: int = 0
    first: Optional[Dict[str, Any]] = None  # the lowest failing seed
    worst_first: Optional[Dict[str, Any]] = None  # the lowest failing seed of the most severe class
    crashes: int = 0
    crashed: List[Dict[str, Any]] = field(default_factory=list)  # the first CRASHES_LISTED_MAX
    problems: List[str] = field(default_factory=list)
    stored: Optional[regressions.Replayed] = None  # --regressions: the stored logs replayed first
    regressions_saved: int = 0

    def add_failure(self, result: Dict[str, Any]) -> None:
        self.failures += 1
        if self.first is None:
            self.first = result
        if self.worst_first is None or reports.most_severe(self.worst, result["failure"]) != self.worst:
            self.worst_first = result
        self.worst = reports.most_severe(self.worst, result["failure"])

    def exit_code(self, signal_number: int) -> int:
        """The most severe failure class; else 130/143 after a signal; else 2 for a crash or a file not
        written; else 0."""
        worst = self.worst
        if self.stored is not None and self.stored.first is not None:
            worst = reports.most_severe(worst, self.stored.first["failure"])
        if worst:
            return worst
        if signal_number:
            return 128 + signal_number
        return 2 if self.crashes or self.problems else 0


def _report_crash(args, tally: Tally, seed: int, result: Dict[str, Any], human) -> None:
    tally.crashes += 1
    if len(tally.crashed) >= CRASHES_LISTED_MAX:
        return
    entry = {"seed": seed, "index": seed - args.seed_base, "how": result["crashed"],
             "reproduce": reports.reproduce(args, seed)}
    tally.crashed.append(entry)
    print(f"asgisim: seed {seed} (index {entry['index']}) {entry['how']}: a bug in the app's native code "
          f"or in asgisim, not a finding of the simulation; the sweep goes on", file=human)
    if result.get("traceback"):
        print(reports.indent(result["traceback"], 4), file=human, end="")
    print(f"  reproduce: {entry['reproduce']}", file=human, flush=True)


def sweep(args: argparse.Namespace, target, confirm: Callable[[Dict[str, Any], SweepControl], Dict[str, Any]],
          check_unsupported: Callable[[Dict[str, Any]], None]) -> int:
    duration = parse_duration(args.duration) if args.duration is not None else None
    plan = seed_plan(args)
    if args.junit:
        reports.check_writable_file("--junit", args.junit)  # before a long sweep, not after it
    store = regressions.Store(args.regressions) if args.regressions else None
    if store is not None:
        store.check("--regressions")
    control = SweepControl(duration_s=None if args.seed is not None else duration)
    print(f"asgisim run --app {args.app} --scenario {args.scenario}: "
          f"{reports.settings_summary(args, plan, duration)}", file=sys.stderr, flush=True)
    human = sys.stderr if args.json else sys.stdout
    tally = Tally()
    stopped_early = False  # --fail-fast
    with control.handling_signals():
        if store is not None and args.seed is None:
            tally.stored = regressions.replay_stored(store, target, args.jobs, control)
            tally.problems.extend(tally.stored.problems)
        results = forking.run_many(plan.seeds(), lambda s: target.run_seed(s), args.jobs, control)
        try:
            for seed, result in results:
                tally.seeds_run += 1
                if "crashed" in result:
                    _report_crash(args, tally, seed, result, human)
                    continue
                check_unsupported(result)
                if result["failure"]:
                    result = confirm(result, control)
                    result["reorder_flag"] = target.reorder_callbacks
                    tally.add_failure(result)
                    tally.regressions_saved += regressions.keep(store, target, result, tally.problems) is not None
                    if args.fail_fast:
                        stopped_early = True
                        break
        finally:
            results.close()
    return _finish(args, plan, tally, control, stopped_early or tally.seeds_run == plan.count(), human)


def _finish(args, plan: SeedPlan, tally: Tally, control: SweepControl, completed: bool, human) -> int:
    end = control.end(completed)
    summary = reports.summary(args, plan, tally, end, control)
    print(summary["line"], file=human)
    if tally.stored is not None and tally.stored.first is not None:
        stored = tally.stored.first
        print(f"  a stored regression fails again ({stored['schedule']}):", file=human)
        print(reports.failure_block(stored, reports.replay_schedule_command(args, stored["schedule"])),
              file=human, end="")
    if tally.first is not None:
        print(reports.failure_block(tally.first, reports.reproduce(args, tally.first["seed"])), file=human, end="")
    if args.json:
        print(json.dumps(summary["json"]), flush=True)
    if args.junit:
        try:
            reports.write_junit(args.junit, summary, tally, control.signal)
        except OSError as error:
            tally.problems.append(f"--junit: cannot write '{args.junit}': {error.strerror}")
            print(f"asgisim: error: {tally.problems[-1]}", file=sys.stderr)
    for line in reports.final_lines(args, tally, control.signal):
        print(line, file=human)
    human.flush()
    return tally.exit_code(control.signal)
