"""``python3 -m asgisim``: run, replay, shrink and trace a real ASGI app under asgisim.

Exit codes as the C++ CLI: 0 passed, 1 invariant, 2 usage, 3 deadlock, 4 liveness,
5 nondeterminism (the most severe wins: 5, 3, 4, 1).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional

from . import forking, real_catalogue, reports, sweep
from .interruption import SweepControl
from .scenario import DEFAULT_INVARIANTS
from .session import Target, native
from .spec import UsageError, load_object, load_scenario

EPILOG = """examples:
  python3 -m asgisim run --app myapp.main:app --scenario myapp.sim:uploads --seeds 1000 --jobs 2
  python3 -m asgisim run --app myapp.main:app --scenario myapp.sim:uploads --duration 5m --junit out.xml
  python3 -m asgisim replay --app myapp.main:app --scenario myapp.sim:uploads --seed 17
  python3 -m asgisim shrink --app myapp.main:app --scenario myapp.sim:uploads --seed 17 -o min.log
  python3 -m asgisim replay --app myapp.main:app --scenario myapp.sim:uploads --schedule min.log
  python3 -m asgisim trace --app myapp.main:app --scenario myapp.sim:uploads --seed 17 -o t.json
exit codes: 0 passed, 1 invariant, 2 usage (or a crashed run), 3 deadlock, 4 liveness, 5 nondeterminism;
  130 (SIGINT) or 143 (SIGTERM) when interrupted before any failure was found"""


def _target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app", required=True, help="the ASGI app, MODULE:ATTRIBUTE (e.g. myapp.main:app)")
    parser.add_argument("--scenario", required=True,
                        help="MODULE:FUNCTION taking an asgisim.Scenario, or a .json traffic file")
    parser.add_argument("--strategy", choices=("fifo", "random", "pct"), default="random",
                        help="fifo: stock asyncio order; random/pct vary what asyncio leaves open (default random)")
    parser.add_argument("--pct-depth", type=int, default=3, help="PCT bug depth (default 3)")
    parser.add_argument("--invariants", default=",".join(DEFAULT_INVARIANTS),
                        help="comma-separated invariant ids (default: the protocol ids, background-complete, "
                             "no-deadlock, liveness, request-latency)")
    parser.add_argument("--reorder-callbacks", action="store_true",
                        help="also reorder ready asyncio callbacks (a schedule stock asyncio does not produce)")
    parser.add_argument("--max-time", type=float, metavar="SECONDS", help="virtual-time budget per run")
    parser.add_argument("--watchdog", type=float, default=10.0, metavar="SECONDS",
                        help="wall-clock seconds a Python thread may run without coming back to the "
                             "kernel before the run stops as escaped (exit 4; default 10)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m asgisim", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Deterministic simulation testing of a real Python ASGI app.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="sweep seeds", epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _target_arguments(run)
    run.add_argument("--seeds", type=int,
                     help="how many seeds (default 100; with --duration, a cap, and no cap when absent)")
    run.add_argument("--duration", metavar="TIME",
                     help="run seeds from the base until the time is up: 300 (seconds), 90s, 5m, 1h30m; "
                          "the runs in flight finish, and the report names the seed indices that ran")
    run.add_argument("--seed", type=int, help="run exactly this seed")
    run.add_argument("--seed-base", type=int, default=0, help="first seed (default 0)")
    run.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    run.add_argument("--shard", default="1/1", metavar="K/N", help="run the K-th of N slices of the seeds")
    run.add_argument("--fail-fast", action="store_true", help="stop at the first failing seed")
    run.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    run.add_argument("--regressions", metavar="DIR",
                     help="keep every failing seed's decision log in DIR; replay the stored ones first")
    replay = commands.add_parser("replay", help="run one seed or decision log again")
    _target_arguments(replay)
    source = replay.add_mutually_exclusive_group(required=True)
    source.add_argument("--seed", type=int)
    source.add_argument("--schedule", metavar="FILE", help="a decision log (strict replay)")
    replay.add_argument("--trace", metavar="FILE", help="also write Chrome trace JSON (Perfetto)")
    replay.add_argument("--timeline", action="store_true", help="print the run as a text timeline")
    shrink = commands.add_parser("shrink", help="minimal decision log of a failing seed")
    _target_arguments(shrink)
    shrink.add_argument("--seed", type=int, required=True)
    shrink.add_argument("-o", "--output", required=True, metavar="FILE")
    shrink.add_argument("--max-attempts", type=int, default=2000)
    trace = commands.add_parser("trace", help="Chrome trace-event JSON of one seed, for Perfetto")
    _target_arguments(trace)
    trace.add_argument("--seed", type=int, required=True)
    trace.add_argument("-o", "--output", required=True, metavar="FILE")
    catalogue = commands.add_parser(
        "catalogue", help="the catalogue scenarios of the installed Starlette, on the real code (JSON lines)",
        description=real_catalogue.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    real_catalogue.add_arguments(catalogue)
    return parser


def _target(args: argparse.Namespace) -> Target:
    if not args.watchdog > 0:
        raise UsageError(f"--watchdog {args.watchdog}: expected a number of seconds above 0")
    invariants = tuple(i.strip() for i in args.invariants.split(",") if i.strip())
    app = load_object(args.app, "--app")
    scenario = load_scenario(args.scenario)
    target = Target(app_spec=args.app, scenario_spec=args.scenario, app=app, scenario=scenario,
                    invariants=invariants, strategy=args.strategy, pct_depth=args.pct_depth,
                    max_time_s=args.max_time, reorder_callbacks=args.reorder_callbacks,
                    watchdog_s=args.watchdog)
    target.check()
    return target


def _check_unsupported(result: Dict[str, Any]) -> None:
    if result.get("unsupported"):
        raise UsageError(result["unsupported"][0])


def _confirm(target: Target, result: Dict[str, Any], control: Optional[SweepControl] = None) -> Dict[str, Any]:
    """A failing seed is run again in a fresh fork; another trace hash is nondeterminism (exit 5).
    An interruption that abandons the runs in flight leaves the failure unconfirmed."""
    if result["failure"] == 0 or "seed" not in result:
        return result
    try:
        again = forking.run_forked(lambda: target.run_seed(result["seed"]), control)
    except forking.Abandoned:
        result["unconfirmed"] = True
        return result
    result["second_trace_hash"] = again["trace_hash"]
    if again["trace_hash"] != result["trace_hash"]:
        result["report"] = (f"the same seed gave two trace hashes in two fresh processes: "
                            f"{result['trace_hash']:#018x} then {again['trace_hash']:#018x}; something outside "
                            f"the choice stream steered it\n" + result["report"])
        result.update(failure=5, failure_name="nondeterminism", invariant="deterministic", layer="simulation")
        result["describe"] = result["report"]
    return result


def command_run(args: argparse.Namespace) -> int:
    target = _target(args)
    return sweep.sweep(args, target, lambda result, control: _confirm(target, result, control),
                       _check_unsupported)


def command_replay(args: argparse.Namespace) -> int:
    target = _target(args)
    keep = bool(args.trace or args.timeline)
    if args.schedule:
        try:
            with open(args.schedule, encoding="utf-8") as f:
                text = f.read()
        except OSError as error:
            raise UsageError(f"--schedule {args.schedule}: {error.strerror}") from None
        mismatches = target.mismatches(native().log_metadata(text, args.schedule))
        if mismatches:
            raise UsageError(f"--schedule {args.schedule} was recorded for another target: {mismatches[0]}")
        result = forking.run_forked(lambda: target.replay(text, args.schedule, True, keep))
        again = forking.run_forked(lambda: target.replay(text, args.schedule, True))
        if result["failure"] and again["trace_hash"] != result["trace_hash"]:
            result.update(failure=5, failure_name="nondeterminism", invariant="deterministic")
        label = f"schedule {args.schedule}"
    else:
        result = _confirm(target, forking.run_forked(lambda: target.run_seed(args.seed, keep)))
        label = f"seed {args.seed}"
    _check_unsupported(result)
    print(f"asgisim replay --app {args.app}: {label}, strategy {args.strategy}: "
          f"{'FAILED' if result['failure'] else 'passed'} ({result['failure_name']}), "
          f"trace hash {result['trace_hash']:#018x}")
    if result["failure"]:
        print(reports.indent(result["describe"] or result["report"]), end="")
    if args.trace:
        reports.write_text(args.trace, result["chrome_trace"])
        print(f"  trace: {args.trace}")
    if args.timeline:
        print(result["timeline"])
    return result["failure"]


def command_shrink(args: argparse.Namespace) -> int:
    target = _target(args)
    result = target.shrink(args.seed, args.max_attempts)  # each of its runs in a fresh fork
    _check_unsupported(result)
    if not result["failure"]:
        print(f"seed {args.seed} passes: nothing to shrink", file=sys.stderr)
        return 0
    reports.write_text(args.output, result["log"])
    print(f"shrunk seed {args.seed}: {result['original_decisions']} -> {result['shrunk_decisions']} decisions "
          f"in {result['attempts']} attempts; still fails {result['invariant']} ({result['layer']})")
    print(f"  reproduce: {reports.replay_schedule_command(args, args.output)}")
    return result["failure"]


def command_trace(args: argparse.Namespace) -> int:
    target = _target(args)
    result = forking.run_forked(lambda: target.run_seed(args.seed, keep_trace=True))
    _check_unsupported(result)
    reports.write_text(args.output, result["chrome_trace"])
    print(f"wrote {args.output}: seed {args.seed}, {result['failure_name']}, trace hash {result['trace_hash']:#018x}")
    return 0


def _ensure_hash_seed(argv: List[str]) -> None:
    """PYTHONHASHSEED must be fixed before the interpreter starts: re-execute once."""
    if os.environ.get("PYTHONHASHSEED") == "0":
        return
    env = dict(os.environ, PYTHONHASHSEED="0")
    os.execve(sys.executable, [sys.executable, "-m", "asgisim", *argv], env)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    _ensure_hash_seed(argv)
    commands = {"run": command_run, "replay": command_replay, "shrink": command_shrink, "trace": command_trace,
                "catalogue": real_catalogue.run}
    try:
        return commands[args.command](args)
    except UsageError as error:
        print(f"asgisim: error: {error}", file=sys.stderr)
        return 2
    except native().UsageError as error:
        print(f"asgisim: error: {error}", file=sys.stderr)
        return 2
    except forking.RunCrashed as error:
        print(f"asgisim: error: {error}", file=sys.stderr)
        return 2
