"""What the command line prints: the first line, the summary, the failure block with its
reproduce line, JSON lines and JUnit XML, in the C++ CLI's style."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, Dict, List, Optional
from xml.sax.saxutils import escape, quoteattr

from .scenario import DEFAULT_INVARIANTS
from .spec import UsageError

_RANK = {0: 0, 1: 1, 4: 2, 3: 3, 5: 4}  # severity: none, invariant, liveness, deadlock, nondeterminism


def most_severe(a: int, b: int) -> int:
    return a if _RANK[a] >= _RANK[b] else b


def seeds_for(args: argparse.Namespace) -> List[int]:
    if args.seed is not None:
        return [args.seed]
    try:
        k, n = (int(x) for x in args.shard.split("/"))
    except ValueError:
        raise UsageError(f"--shard {args.shard}: expected K/N, e.g. 2/8") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard {args.shard}: K must be between 1 and N")
    if args.seeds < 1 or args.jobs < 1:
        raise UsageError("--seeds and --jobs must be at least 1")
    return [args.seed_base + i for i in range(args.seeds) if i % n == k - 1]


def settings_summary(args: argparse.Namespace, seeds: List[int]) -> str:
    if args.seed is not None:
        text = f"seed {args.seed}"
    else:
        text = f"seeds {args.seed_base}..{args.seed_base + args.seeds - 1} ({args.seeds})"
    text += f", strategy {args.strategy}"
    if args.strategy == "pct":
        text += f", pct-depth {args.pct_depth}"
    if args.seed is None:
        text += f", jobs {args.jobs}"
        if args.shard != "1/1":
            text += f", shard {args.shard} ({len(seeds)} seeds)"
    if args.reorder_callbacks:
        text += ", reorder-callbacks"
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


def summary(args, target, seeds: List[int], failures: int, worst: int, first: Optional[Dict[str, Any]]):
    names = {0: "passed", 1: "invariant", 3: "deadlock", 4: "liveness", 5: "nondeterminism"}
    line = (f"{args.app}  {'FAILED' if failures else 'passed'}  {len(seeds)} seed{'s' * (len(seeds) != 1)}, "
            f"{failures} failure{'s' * (failures != 1)}")
    if failures:
        line += f" ({names[worst]})"
    if first is not None:
        line += f"; first failure: seed {first['seed']} (index {first['seed'] - args.seed_base}) {first['invariant']}"
    data = {"app": args.app, "scenario": args.scenario, "strategy": args.strategy, "seed_base": args.seed_base,
            "seeds_run": len(seeds), "failures": failures, "failure_class": names[worst], "exit_code": worst,
            "reorder_callbacks": bool(args.reorder_callbacks)}
    if first is not None:
        data.update(seed=first["seed"], invariant=first["invariant"], layer=first["layer"],
                    trace_hash=first["trace_hash"], reproduce=reproduce(args, first["seed"]))
    return {"line": line, "json": data}


def write_text(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None


def write_junit(path: str, summary_data: Dict[str, Any], first: Optional[Dict[str, Any]]) -> None:
    data = summary_data["json"]
    name = f"{data['app']} under {data['scenario']}"
    failure = ""
    if first is not None:
        failure = (f"<failure message={quoteattr(first['invariant'] + ' (' + first['layer'] + ')')}>"
                   f"{escape(first['describe'] or first['report'])}\nreproduce: {escape(data['reproduce'])}"
                   "</failure>")
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           f'<testsuites><testsuite name="asgisim" tests="1" failures="{1 if first else 0}">'
           f'<testcase classname="asgisim.python" name={quoteattr(name)}>{failure}</testcase>'
           '</testsuite></testsuites>\n')
    write_text(path, xml)
