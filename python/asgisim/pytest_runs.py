"""The ``asgisim`` fixture of the pytest plugin (pytest_plugin.py): runs, results, failures.

A run is the same sweep as ``python3 -m asgisim run``: the stored regressions first (with a
regressions directory), then the seeds of this shard, each in a fresh fork of the pytest
process; a failing seed runs again in another fork and the two trace hashes must agree.
A failure fails the test with the invariant, the blamed layer, the run's description
(with the Python stacks involved) and two commands that reproduce it in a new process.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import pytest

from . import cli, forking, regressions, reports, sweep
from .spec import UsageError

SETTINGS = ("app", "scenario", "seeds", "strategy", "invariants", "pct_depth", "max_time", "reorder_callbacks",
            "jobs")


def parse_shard(text: str) -> Tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--asgisim-shard {text}: expected K/N, e.g. 2/8") from None
    if not 1 <= k <= n:
        raise ValueError(f"--asgisim-shard {text}: K must be between 1 and N")
    return k, n


@dataclass
class SessionStats:
    """What the session's asgisim runs did, for the terminal summary."""
    shard: Tuple[int, int] = (1, 1)
    runs: int = 0
    seeds_run: int = 0
    failing_runs: int = 0
    empty_shard: List[str] = field(default_factory=list)  # node ids skipped: no seed in this shard

    def summary_lines(self, exitstatus: int) -> List[str]:
        shard = f"shard {self.shard[0]}/{self.shard[1]}"
        lines = []
        if self.runs or self.empty_shard:
            text = (f"asgisim: {reports.plural(self.runs, 'run')}, {reports.plural(self.seeds_run, 'seed')}"
                    f"{f' ({shard})' if self.shard != (1, 1) else ''}, {self.failing_runs} failing")
            lines.append(text)
        if self.empty_shard:
            lines.append(f"asgisim: {reports.plural(len(self.empty_shard), 'test')} skipped: {shard} holds none of "
                         "their seeds (a test with fewer seeds than shards leaves some shards empty)")
            if not self.runs:
                lines.append(f"asgisim: {shard} simulated nothing; the other shards run these tests' seeds")
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            lines.append("asgisim: pytest collected no tests (exit code 5), so no seed ran"
                         f"{f' in {shard}' if self.shard != (1, 1) else ''}: check the test paths, -k and -m")
        return lines


@dataclass
class Failure:
    """One failing run: a seed, or a stored regression (``schedule``)."""
    invariant: str
    layer: str
    kind: str  # invariant, deadlock, liveness, nondeterminism
    exit_code: int
    trace_hash: int
    describe: str
    reproduce: List[str]  # shell commands, each fails the same way in a new process
    seed: Optional[int] = None
    schedule: Optional[str] = None


@dataclass
class RunResult:
    app: str
    scenario: str
    strategy: str
    seeds: List[int]  # the seeds that ran, in order
    regressions_replayed: int = 0
    failures: List[Failure] = field(default_factory=list)
    crashes: List[str] = field(default_factory=list)

    @property
    def seeds_run(self) -> int:
        return len(self.seeds)

    @property
    def failure(self) -> Optional[Failure]:
        return self.failures[0] if self.failures else None

    @property
    def passed(self) -> bool:
        return not self.failures and not self.crashes


def _import_root(spec: str) -> Optional[str]:
    """The sys.path entry the module of ``module:attribute`` was imported from."""
    if ":" not in spec:
        return None
    name = spec.partition(":")[0]
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path:
        return None
    root = os.path.dirname(os.path.abspath(path))
    for _ in range(name.count(".") + (os.path.basename(path) == "__init__.py")):
        root = os.path.dirname(root)
    return root


class Runner:
    """The ``asgisim`` fixture."""

    def __init__(self, request, stats: SessionStats) -> None:
        self.request = request
        self.config = request.config
        self.stats = stats
        marker = request.node.get_closest_marker("asgisim")
        self.defaults: Dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
        unknown = sorted(set(self.defaults) - set(SETTINGS))
        if unknown:
            raise pytest.UsageError(f"@pytest.mark.asgisim: unknown argument {unknown[0]!r}; "
                                    f"known: {', '.join(SETTINGS)}")
        self.results: List[RunResult] = []

    def run(self, app: Optional[str] = None, scenario: Optional[str] = None, *, check: bool = True,
            fail_fast: bool = True, **settings: Any) -> RunResult:
        """Sweeps the seeds of ``scenario`` ("module:function" or a .json file) against ``app``
        ("module:attribute"). With ``check`` (default) a failure fails the test; else it is
        returned. ``fail_fast`` (default) stops at the first failing seed."""
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise TypeError(f"asgisim.run() got an unknown argument {unknown[0]!r}")
        merged = dict(self.defaults, **{k: v for k, v in settings.items() if v is not None})
        merged.update({k: v for k, v in (("app", app), ("scenario", scenario)) if v is not None})
        try:
            args, target = self._target(merged)
        except UsageError as error:
            pytest.fail(f"asgisim: {error}", pytrace=False)
        if os.environ.get("PYTHONHASHSEED") != "0":
            pytest.fail("asgisim: PYTHONHASHSEED is not 0 in this pytest process, so its runs would not "
                        "match `python3 -m asgisim replay`; load the plugin with `-p asgisim.pytest_plugin` "
                        "on pytest's command line (it re-executes pytest with it) or set PYTHONHASHSEED=0",
                        pytrace=False)
        result = self._sweep(args, target, fail_fast)
        self.results.append(result)
        self.stats.runs += 1
        self.stats.seeds_run += result.seeds_run
        self.stats.failing_runs += not result.passed
        self.request.node.user_properties.append(("asgisim_seeds_run", str(result.seeds_run)))
        if result.failure is not None:
            self.request.node.user_properties.append(("asgisim_reproduce", result.failure.reproduce[-1]))
        if check and not result.passed:
            pytest.fail(self._message(result), pytrace=False)
        return result

    # ---- settings -------------------------------------------------------------------

    def _option(self, name: str) -> Any:
        return self.config.getoption(name)

    def _target(self, merged: Dict[str, Any]):
        for key in ("app", "scenario"):
            if not isinstance(merged.get(key), str):
                raise UsageError(f"asgisim.run() needs {key} as a string ('module:attribute'"
                                 f"{' or a .json file' if key == 'scenario' else ''}), in the call or in "
                                 "@pytest.mark.asgisim: the reproduce line names it")
        argv = ["run", "--app", merged["app"], "--scenario", merged["scenario"]]
        if merged.get("strategy"):
            argv += ["--strategy", merged["strategy"]]
        if merged.get("invariants"):
            invariants = merged["invariants"]
            argv += ["--invariants", invariants if isinstance(invariants, str) else ",".join(invariants)]
        if merged.get("pct_depth") is not None:
            argv += ["--pct-depth", str(merged["pct_depth"])]
        if merged.get("max_time") is not None:
            argv += ["--max-time", repr(float(merged["max_time"]))]
        if merged.get("reorder_callbacks"):
            argv.append("--reorder-callbacks")
        seeds = self._option("--asgisim-seeds") or merged.get("seeds") or int(self.config.getini("asgisim_seeds"))
        jobs = self._option("--asgisim-jobs") or merged.get("jobs") or int(self.config.getini("asgisim_jobs"))
        argv += ["--seeds", str(seeds), "--jobs", str(jobs), "--seed-base", str(self._option("--asgisim-seed-base") or 0),
                 "--shard", f"{self.stats.shard[0]}/{self.stats.shard[1]}"]
        if self._option("--asgisim-seed") is not None:
            argv += ["--seed", str(self._option("--asgisim-seed"))]
        try:
            args = cli.build_parser().parse_args(argv)
        except SystemExit:
            raise UsageError(f"bad settings: {' '.join(argv[1:])}") from None
        args.regressions = self._regressions_dir()
        return args, cli._target(args)

    def _regressions_dir(self) -> Optional[str]:
        directory = self._option("--asgisim-regressions")
        if directory:
            return str(self.config.invocation_params.dir / directory)
        directory = self.config.getini("asgisim_regressions")
        return str(self.config.rootpath / directory) if directory else None

    # ---- the sweep ------------------------------------------------------------------

    def _sweep(self, args, target, fail_fast: bool) -> RunResult:
        plan = sweep.seed_plan(args)
        result = RunResult(app=args.app, scenario=args.scenario, strategy=args.strategy, seeds=[])
        store = regressions.Store(args.regressions) if args.regressions and args.seed is None else None
        if store is not None:
            try:
                store.check("--asgisim-regressions")
            except UsageError as error:
                pytest.fail(f"asgisim: {error}", pytrace=False)
            replayed = regressions.replay_stored(store, target, args.jobs)
            result.regressions_replayed = replayed.replayed
            if replayed.first is not None:
                result.failures.append(self._failure(args, replayed.first, schedule=replayed.first["schedule"]))
                return result
        if plan.count() == 0 and not result.regressions_replayed:
            self.stats.empty_shard.append(self.request.node.nodeid)
            pytest.skip(f"asgisim: shard {args.shard} holds none of this run's {args.seeds} seed indices "
                        f"(0..{args.seeds - 1}); the other shards run them")
        runs = forking.run_many(plan.seeds(), lambda s: target.run_seed(s), args.jobs)
        try:
            for seed, outcome in runs:
                result.seeds.append(seed)
                if "crashed" in outcome:
                    result.crashes.append(f"seed {seed} {outcome['crashed']}\n{outcome.get('traceback', '')}"
                                          f"  reproduce: {self._replay_line(args, seed=seed)}")
                    continue
                cli._check_unsupported(outcome)
                if not outcome["failure"]:
                    continue
                outcome = cli._confirm(target, outcome)
                regressions.keep(store, target, outcome, [])
                result.failures.append(self._failure(args, outcome, seed=seed))
                if fail_fast:
                    break
        finally:
            runs.close()
        return result

    # ---- reports --------------------------------------------------------------------

    def _environment_prefix(self, args) -> str:
        """PYTHONPATH=... when the app or the scenario was imported from outside the directory
        pytest was started in (a rootdir or conftest insertion into sys.path)."""
        start = str(self.config.invocation_params.dir)
        inherited = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        roots = []
        for spec in (args.app, args.scenario):
            root = _import_root(spec)
            if root and root != start and root not in roots and root not in inherited:
                roots.append(root)
        if not roots:
            return ""
        return "PYTHONPATH=" + shlex.quote(os.pathsep.join(roots)) + "${PYTHONPATH:+:$PYTHONPATH} "

    def _replay_line(self, args, seed: Optional[int] = None, schedule: Optional[str] = None) -> str:
        line = reports.reproduce(args, seed) if schedule is None else reports.replay_schedule_command(args, schedule)
        return self._environment_prefix(args) + line

    def _pytest_line(self, seed: Optional[int]) -> str:
        words = ["python3", "-m", "pytest"]
        params = self.config.invocation_params.args
        if any(a == "asgisim.pytest_plugin" or a == "-pasgisim.pytest_plugin" for a in params):
            words += ["-p", "asgisim.pytest_plugin"]
        words.append(self.request.node.nodeid)
        if seed is not None:
            words += ["--asgisim-seed", str(seed)]
        elif self._option("--asgisim-regressions"):
            words += ["--asgisim-regressions", self._option("--asgisim-regressions")]
        prefix = ""
        if self.config.rootpath != self.config.invocation_params.dir:
            prefix = f"cd {shlex.quote(str(self.config.rootpath))} && "
        return prefix + shlex.join(words)

    def _failure(self, args, outcome: Dict[str, Any], seed: Optional[int] = None,
                 schedule: Optional[str] = None) -> Failure:
        return Failure(invariant=outcome["invariant"], layer=outcome["layer"], kind=outcome["failure_name"],
                       exit_code=outcome["failure"], trace_hash=outcome["trace_hash"],
                       describe=outcome["describe"] or outcome["report"], seed=seed, schedule=schedule,
                       reproduce=[self._pytest_line(seed), self._replay_line(args, seed, schedule)])

    def _message(self, result: RunResult) -> str:
        lines = []
        failure = result.failure
        if failure is not None:
            which = f"seed {failure.seed}" if failure.seed is not None else f"the stored regression {failure.schedule}"
            lines.append(f"asgisim: {result.app} under {result.scenario} (strategy {result.strategy}) fails "
                         f"{failure.invariant} ({failure.kind}), blamed on {failure.layer}, at {which}")
            lines.append(reports.indent(failure.describe).rstrip("\n"))
            lines.append(f"  trace hash: {failure.trace_hash:#018x}")
            lines.append("reproduce it (each command fails the same way, in a new process):")
            lines.extend(f"  {line}" for line in failure.reproduce)
        for crash in result.crashes:
            lines.append(f"asgisim: a run's process died (a crash in native code, not a finding):\n{crash}")
        return "\n".join(lines)

