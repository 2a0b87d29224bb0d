"""What the command line prints: the first line, the summary, the failure block with its
reproduce line, JSON lines and JUnit XML, in the C++ CLI's style."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
from typing import Any, Dict, List, Optional
from xml.sax.saxutils import escape, quoteattr

from .interruption import duration_text, signal_name
from .scenario import DEFAULT_INVARIANTS
from .spec import UsageError

# Temporary files of atomic writes start with it (as the C++ CLI's).
TEMPORARY_PREFIX = ".asgisim-tmp-"

_RANK = {0: 0, 1: 1, 4: 2, 3: 3, 5: 4}  # severity: none, invariant, liveness, deadlock, nondeterminism


def most_severe(a: int, b: int) -> int:
    return a if _RANK[a] >= _RANK[b] else b


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def settings_summary(args: argparse.Namespace, plan, duration_s: Optional[float]) -> str:
    if args.seed is not None:
        text = f"seed {args.seed}"
    elif plan.cap is None:
        text = f"seeds from {args.seed_base} until the duration is up"
    else:
        text = (f"seeds {args.seed_base}..{args.seed_base + plan.cap - 1} ({plan.cap}"
                f"{', or fewer when the duration is up' if duration_s else ''})")
    text += f", strategy {args.strategy}"
    if args.strategy == "pct":
        text += f", pct-depth {args.pct_depth}"
    if args.seed is None:
        text += f", jobs {args.jobs}"
        if args.shard != "1/1":
            text += f", shard {args.shard}"
            if plan.cap is not None:
                text += f" ({plural(plan.count(), 'seed')})"
        if duration_s:
            text += f", duration {duration_text(duration_s)}"
    if args.reorder_callbacks:
        text += ", reorder-callbacks"
    if getattr(args, "regressions", None) and args.seed is None:
        text += f", regressions {args.regressions}"
    return text


def _options(args: argparse.Namespace) -> List[str]:
    words = ["--app", args.app, "--scenario", args.scenario, "--strategy", args.strategy]
    if args.strategy == "pct":
        words += ["--pct-depth", str(args.pct_depth)]
    if args.invariants != ",".join(DEFAULT_INVARIANTS):
        words += ["--invariants", args.invariants]
    if args.reorder_callbacks:
        words.append("--reorder-callbacks")
    if args.max_time is not None:
        words += ["--max-time", repr(args.max_time)]
    return words


def reproduce(args: argparse.Namespace, seed: int) -> str:
    return shlex.join(["python3", "-m", "asgisim", "replay", *_options(args), "--seed", str(seed)])


def replay_schedule_command(args: argparse.Namespace, path: str) -> str:
    return shlex.join(["python3", "-m", "asgisim", "replay", *_options(args), "--schedule", path])


def indent(text: str, by: int = 2) -> str:
    return "".join(" " * by + line + "\n" for line in text.rstrip("\n").split("\n"))


def failure_block(result: Dict[str, Any], reproduce_line: str) -> str:
    block = indent(result["describe"] or result["report"])
    if result.get("reorder_flag"):
        block += "  note: needs --reorder-callbacks, a schedule stock asyncio does not produce\n"
    return block + f"  trace hash: {result['trace_hash']:#018x}\n  reproduce: {reproduce_line}\n"


NAMES = {0: "passed", 1: "invariant", 3: "deadlock", 4: "liveness", 5: "nondeterminism"}


def summary(args, plan, tally, end: str, control) -> Dict[str, Any]:
    first = tally.first
    failed = tally.failures or (tally.stored is not None and tally.stored.failed)
    worst = tally.worst
    if tally.stored is not None and tally.stored.first is not None:
        worst = most_severe(worst, tally.stored.first["failure"])
    line = (f"{args.app}  {'FAILED' if failed else 'passed'}  {plural(tally.seeds_run, 'seed')}, "
            f"{plural(tally.failures, 'failure')}")
    if failed:
        line += f" ({NAMES[worst]})"
    if tally.crashes:
        line += f", {tally.crashes} crashed"
    if end != "completed":
        # Which seeds ran, exactly, and how to run the same ones again.
        line += (f"; {'INTERRUPTED (stopped by a signal)' if end == 'interrupted' else 'time is up (--duration)'}: "
                 f"ran {plan.ran(tally.seeds_run)}, `--seeds {plan.covered(tally.seeds_run)}` repeats them")
        if control.runs_abandoned:
            line += f", {plural(control.runs_abandoned, 'run')} in flight abandoned"
    stored = tally.stored
    if stored is not None:
        line += f"; regressions: {stored.replayed} replayed, {stored.failed} failing again"
    if first is not None:
        line += f"; first failure: seed {first['seed']} (index {first['seed'] - args.seed_base}) {first['invariant']}"
    data = {"app": args.app, "scenario": args.scenario, "strategy": args.strategy, "seed_base": args.seed_base,
            "seeds_run": tally.seeds_run, "failures": tally.failures, "failure_class": NAMES[worst],
            "exit_code": tally.exit_code(control.signal), "reorder_callbacks": bool(args.reorder_callbacks),
            "end": end, "seeds_ran": plan.ran(tally.seeds_run), "seeds_covered": plan.covered(tally.seeds_run),
            "runs_abandoned": control.runs_abandoned, "crashes": tally.crashes, "crashed": tally.crashed,
            "problems": tally.problems}
    if control.signal:
        data["signal"] = signal_name(control.signal)
    if stored is not None:
        data.update(regressions_replayed=stored.replayed, regressions_failed=stored.failed,
                    regressions_saved=tally.regressions_saved + len(stored.saved))
        if stored.first is not None:
            data["regression_reproduce"] = replay_schedule_command(args, stored.first["schedule"])
    if first is not None:
        data.update(seed=first["seed"], invariant=first["invariant"], layer=first["layer"],
                    trace_hash=first["trace_hash"], reproduce=reproduce(args, first["seed"]))
    if tally.worst_first is not None:
        data["most_severe_reproduce"] = reproduce(args, tally.worst_first["seed"])
    return {"line": line, "json": data}


def final_lines(args, tally, signal_number: int) -> List[str]:
    """What ends a run's output: the interruption, crashes, files not written, and the line that
    reproduces the most severe failure (the last line)."""
    lines = []
    if signal_number:
        lines.append(f"interrupted by {signal_name(signal_number)}: the summary says which seeds ran")
    if tally.crashes:
        lines.append(f"{plural(tally.crashes, 'run')} crashed (see above; the reproduce line is printed with each)")
    if tally.problems:
        lines.append(f"{plural(len(tally.problems), 'file')} could not be written (see the errors above)")
    if tally.stored is not None and tally.stored.first is not None:
        lines.append("a stored regression fails again; reproduce it with:")
        lines.append(replay_schedule_command(args, tally.stored.first["schedule"]))
    if tally.worst_first is not None:
        lines.append(f"most severe: {NAMES[tally.worst]} (exit {tally.worst}); reproduce it with:")
        lines.append(reproduce(args, tally.worst_first["seed"]))
    elif signal_number:
        lines.append(f"no failures in what ran (exit {tally.exit_code(signal_number)})")
    return lines


def check_writable_file(option: str, path: str) -> None:
    """The directory exists and accepts a new file, or the file itself is writable."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path}: the directory {directory} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory")
    if not os.access(directory, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path}: not writable")


def write_atomically(path: str, text: str) -> None:
    """A temporary file in the same directory, fsync, rename: a crash or a SIGKILL leaves the old
    file or the new one, never half of one. Raises OSError."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f"{TEMPORARY_PREFIX}{os.getpid()}-{name}")
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_text(path: str, text: str) -> None:
    try:
        write_atomically(path, text)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None


def write_junit(path: str, summary_data: Dict[str, Any], tally, signal_number: int) -> None:
    """One testcase for the sweep (its first failure), one more for crashed runs; an interrupted
    sweep says so in the names. Atomic; raises OSError."""
    data = summary_data["json"]
    reason = f"interrupted by {signal_name(signal_number)}" if signal_number else ""
    seeds = plural(data["seeds_run"], "seed") + (f", {reason}" if reason else "")
    case_name = f"{data['app']} under {data['scenario']} ({seeds})"
    cases = [f'<testcase classname="asgisim.python" name={quoteattr(case_name)}>']
    first = tally.first
    reproduce_line = data.get("reproduce")
    if first is None and tally.stored is not None and tally.stored.first is not None:
        first, reproduce_line = tally.stored.first, data["regression_reproduce"]
    if first is not None:
        cases[0] += (f"<failure type={quoteattr(data['failure_class'])} "
                     f"message={quoteattr(first['invariant'] + ' (' + first['layer'] + ')')}>"
                     f"{escape(first['describe'] or first['report'])}\nreproduce: {escape(reproduce_line)}"
                     "</failure>")
    cases[0] += "</testcase>"
    if tally.crashes:
        text = "".join(f"seed {c['seed']} {c['how']}\nreproduce: {c['reproduce']}\n" for c in tally.crashed)
        cases.append(f'<testcase classname="asgisim.python" name="crashed runs ({tally.crashes})">'
                     f'<error type="crash" message={quoteattr(plural(tally.crashes, "run") + " crashed")}>'
                     f"{escape(text)}</error></testcase>")
    name = f"asgisim ({reason})" if reason else "asgisim"
    failures = 1 if first else 0
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           f'<testsuites name={quoteattr(name)}><testsuite name="asgisim" tests="{len(cases)}" '
           f'failures="{failures}" errors="{1 if tally.crashes else 0}">'
           + "".join(cases) + '</testsuite></testsuites>\n')
    write_atomically(path, xml)
