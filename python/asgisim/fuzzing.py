"""The Python half of the fuzz target for real apps (fuzz/python_app_fuzz.cpp).

The target embeds the interpreter; each libFuzzer input is the choice stream of one run
of the app (lenient: a value out of range is reduced, an exhausted input answers 0), so
libFuzzer's mutations change what the scenario draws, where clients leave and how the
schedule goes. It reads its target from the environment:

``ASGISIM_FUZZ_APP``         the app, MODULE:ATTRIBUTE (default: the build's example app)
``ASGISIM_FUZZ_SCENARIO``    the scenario, MODULE:FUNCTION or a .json traffic file
                             (default: ``scenario`` in the app's module)
``ASGISIM_FUZZ_INVARIANTS``  comma-separated invariant ids (default: as ``run``)
``ASGISIM_FUZZ_STRATEGY``    random (default) or pct; fifo fuzzes the traffic only
``ASGISIM_FUZZ_COVER``       colon-separated directories whose Python lines count as
                             coverage (default: the app module's directory)
``ASGISIM_FUZZ_FINDINGS``    where findings' decision logs go (default: the working directory)

The app is imported from the working directory, as ``python3 -m asgisim`` does.
A finding is written as a decision log, replayed strictly once in a fresh process (the
same program, see ``confirm_main``) and reported with the command line that replays it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional

from . import threads
from .scenario import DEFAULT_INVARIANTS
from .session import Target
from .spec import UsageError, load_object, load_scenario

APP_ENV = "ASGISIM_FUZZ_APP"
SCENARIO_ENV = "ASGISIM_FUZZ_SCENARIO"
INVARIANTS_ENV = "ASGISIM_FUZZ_INVARIANTS"
STRATEGY_ENV = "ASGISIM_FUZZ_STRATEGY"
COVER_ENV = "ASGISIM_FUZZ_COVER"
FINDINGS_ENV = "ASGISIM_FUZZ_FINDINGS"
# Set by the target for the fresh process that confirms a finding: the log to replay.
CONFIRM_ENV = "ASGISIM_FUZZ_CONFIRM"


def _module_root(spec: str) -> str:
    """The directory a spec's top-level package is imported from ("" if none)."""
    module_name = spec.partition(":")[0]
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path:
        return ""
    root = os.path.dirname(os.path.abspath(path))
    for _ in range(module_name.count(".")):
        root = os.path.dirname(root)
    return root


class FuzzTarget:
    """One app and scenario, imported once; ``run_input`` runs one input in this process."""

    def __init__(self, target: Target, python_helper: str) -> None:
        self.target = target
        self.python_helper = python_helper
        # One host for every input: the app's layers are wrapped once (a second wrap
        # would wrap the wrappers); each run still gets a fresh loop and fresh pins.
        self.host = target._host()
        self.findings_dir = os.environ.get(FINDINGS_ENV) or os.getcwd()

    @classmethod
    def from_environment(cls, default_app: str, python_helper: str = "") -> "FuzzTarget":
        app_spec = os.environ.get(APP_ENV) or default_app
        scenario_spec = os.environ.get(SCENARIO_ENV) or ""
        if not scenario_spec:
            if os.environ.get(APP_ENV):
                raise UsageError(f"{APP_ENV} is set but {SCENARIO_ENV} is not: name the scenario too "
                                 "(MODULE:FUNCTION or a .json traffic file)")
            scenario_spec = default_app.partition(":")[0] + ":scenario"
        invariants = os.environ.get(INVARIANTS_ENV)
        strategy = os.environ.get(STRATEGY_ENV) or "random"
        if strategy not in ("random", "pct", "fifo"):
            raise UsageError(f"{STRATEGY_ENV}={strategy}: expected random, pct or fifo")
        target = Target(app_spec=app_spec, scenario_spec=scenario_spec,
                        app=load_object(app_spec, APP_ENV), scenario=load_scenario(scenario_spec),
                        invariants=tuple(i.strip() for i in invariants.split(",") if i.strip())
                        if invariants else DEFAULT_INVARIANTS, strategy=strategy)
        target.check()
        fuzz = cls(target, python_helper)
        if not os.environ.get(CONFIRM_ENV):
            fuzz._start_coverage()
        return fuzz

    # ---- coverage ---------------------------------------------------------------

    def _cover_dirs(self) -> List[str]:
        named = os.environ.get(COVER_ENV)
        if named:
            return [os.path.abspath(d) for d in named.split(":") if d]
        root = _module_root(self.target.app_spec)
        return [root] if root else []

    def _start_coverage(self) -> None:
        """The app's own Python lines become libFuzzer features (absent in a replay program)."""
        try:
            import _asgisim_fuzz_coverage as coverage
        except ImportError:
            return
        dirs = [d.rstrip(os.sep) + os.sep for d in self._cover_dirs()]
        if not dirs or not coverage.enabled():
            return
        coverage.cover(dirs)
        coverage.trace_this_thread()
        threads.on_thread_start = coverage.trace_this_thread

    # ---- one input ------------------------------------------------------------------

    def run_input(self, data: bytes) -> Optional[str]:
        """One run; None when it passed, else the finding, reported (log written, confirmed)."""
        result = self.target.run_bytes(data, self.host)
        if result.get("unsupported"):
            raise UsageError(result["unsupported"][0])
        if not result["failure"]:
            return None
        return self._report(result)

    def _report(self, result: Dict[str, Any]) -> str:
        text = result["decisions"]
        name = f"python-finding-{hashlib.sha256(text.encode()).hexdigest()[:16]}.log"
        os.makedirs(self.findings_dir, exist_ok=True)
        path = os.path.abspath(os.path.join(self.findings_dir, name))
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        lines = [f"python app fuzz target: {self.target.app_spec} FAILED ({result['failure_name']}): "
                 f"{result['invariant']} ({result['layer']})",
                 result["describe"] or result["report"],
                 f"decision log: {path} ({result['decision_count']} decisions)",
                 self._confirmation(path, result),
                 f"reproduce: {self._reproduce_command(path)}"]
        return "\n".join(line.rstrip("\n") for line in lines) + "\n"

    def _reproduce_command(self, log_path: str) -> str:
        python = self.python_helper or "python3"
        command = [python, "-m", "asgisim", "replay", "--app", self.target.app_spec,
                   "--scenario", self.target.scenario_spec, "--schedule", log_path]
        if tuple(self.target.invariants) != tuple(DEFAULT_INVARIANTS):
            command += ["--invariants", ",".join(self.target.invariants)]
        if self.target.strategy != "random":
            command += ["--strategy", self.target.strategy]
        root = _module_root(self.target.app_spec)
        prefix = f"cd {root} && " if root and root != os.getcwd() else ""
        return prefix + " ".join(command)

    def _confirmation(self, log_path: str, result: Dict[str, Any]) -> str:
        """Replays the log strictly in a fresh process of this program: the same failure there
        means no state an earlier input left in the app was needed."""
        env = dict(os.environ, **{CONFIRM_ENV: log_path})
        for key in (APP_ENV, SCENARIO_ENV):
            env[key] = self.target.app_spec if key == APP_ENV else self.target.scenario_spec
        try:
            done = subprocess.run(["/proc/self/exe"], env=env, cwd=os.getcwd(), capture_output=True,
                                  text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"confirmation: could not run the fresh process ({error})"
        answer = _last_json(done.stdout)
        if answer is None:
            return (f"confirmation: the fresh process gave no answer (exit {done.returncode})\n"
                    + done.stderr[-2000:])
        if answer.get("usage"):
            return f"confirmation: the strict replay refused the log: {answer['usage']}"
        if answer["failure"] == result["failure"] and answer["invariant"] == result["invariant"]:
            same = "the same trace hash" if answer["trace_hash"] == result["trace_hash"] else (
                f"another trace hash ({answer['trace_hash']:#018x}, here {result['trace_hash']:#018x}: "
                "state left by earlier inputs changed the run, not its outcome)")
            return f"confirmation: a fresh process replays it to the same failure, {same}"
        return (f"confirmation: NOT reproduced alone: a fresh process replays it to "
                f"{answer['failure_name']} {answer['invariant']}; the finding needs state that earlier "
                "inputs left in the app (module globals, caches)")


def _last_json(text: str) -> Optional[Dict[str, Any]]:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def confirm_main(default_app: str) -> int:
    """The fresh process of a confirmation: one strict replay of $ASGISIM_FUZZ_CONFIRM,
    its outcome as one JSON line on stdout."""
    log_path = os.environ[CONFIRM_ENV]
    try:
        fuzz = FuzzTarget.from_environment(default_app)
        with open(log_path, encoding="utf-8") as f:
            text = f.read()
        result = fuzz.target.replay(text, log_path, strict=True, host=fuzz.host)
        answer = {key: result[key] for key in ("failure", "failure_name", "invariant", "trace_hash")}
    except UsageError as error:
        answer = {"usage": str(error)}
    print(json.dumps(answer), flush=True)
    return 0

