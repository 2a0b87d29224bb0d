"""One configured target: the app, the scenario, the invariants and the run settings.

Every call here but ``shrink`` (whose search forks a child per run) runs inside a
forked child (see forking.py) and returns plain data:
the C++ engine (asgisim._native) does the run, the checks, replay and shrinking.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from . import host as host_module
from .scenario import DEFAULT_INVARIANTS, Scenario
from .spec import UsageError


def native():
    try:
        from . import _native
    except ImportError as error:
        raise UsageError(f"the native module asgisim._native is not built or not on PYTHONPATH ({error}); "
                         "build with cmake (ASGISIM_PYTHON=ON) and use <build>/python/asgisim-python") from None
    return _native


@functools.lru_cache(maxsize=None)
def package_versions() -> str:
    """Read once per process (pins.prepare_parent reads it before the first fork)."""
    from importlib import metadata
    parts = []
    for name in ("starlette", "anyio", "fastapi"):
        try:
            parts.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ",".join(parts)


def interpreter() -> str:
    return f"{sys.implementation.name}-{sys.version.split()[0]}"


@dataclass
class Target:
    app_spec: str
    scenario_spec: str
    app: Any
    scenario: Any
    invariants: Sequence[str] = DEFAULT_INVARIANTS
    strategy: str = "random"
    pct_depth: int = 3
    max_time_s: Optional[float] = None
    reorder_callbacks: bool = False
    steps_max: int = 2_000_000
    watchdog_s: float = 10.0  # wall-clock seconds a thread may keep the baton (then: escaped)
    extra_metadata: Dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Bad input found before any fork: unknown invariants, a scenario that raises."""
        known = set(native().invariant_ids()) | {"message-type"}
        unknown = [i for i in self.invariants if i not in known]
        if unknown:
            raise UsageError(f"unknown invariant id {unknown[0]!r}; known: {', '.join(sorted(known))}")
        dry = Scenario(_run=_DryRun())
        try:
            self.scenario(dry)
        except BaseException as error:
            raise UsageError(f"--scenario {self.scenario_spec}: the scenario raised "
                             f"{type(error).__name__}: {error}") from None
        self.invariants = tuple(self.invariants) + tuple(
            i for i in dry.extra_invariants if i not in self.invariants)
        unknown = [i for i in self.invariants if i not in known]
        if unknown:
            raise UsageError(f"the scenario checks an unknown invariant id {unknown[0]!r}")
        if not dry.clients:
            raise UsageError(f"--scenario {self.scenario_spec}: the scenario made no client "
                             "(call s.client(Request(...)))")

    def metadata(self) -> Dict[str, str]:
        data = {"app": self.app_spec, "scenario-spec": self.scenario_spec, "interpreter": interpreter(),
                "packages": package_versions() or "none", "invariants": ",".join(self.invariants),
                "reorder-callbacks": "1" if self.reorder_callbacks else "0"}
        data.update(self.extra_metadata)
        return data

    def options(self, keep_trace: bool = False) -> Dict[str, Any]:
        return {"strategy": self.strategy, "pct_depth": self.pct_depth, "keep_trace": keep_trace,
                "max_time_ns": None if self.max_time_s is None else int(self.max_time_s * 1e9)}

    def _host(self) -> host_module.Host:
        host = host_module.Host(self.app, self.scenario, self.reorder_callbacks,
                                vary_timer_ties=self.strategy != "fifo")
        host.watchdog_s = self.watchdog_s
        return host

    def _scenario_object(self, host: host_module.Host):
        # Checkers judge `no-deadlock` and `liveness` from the run itself; the engine
        # installs checkers only for the others.
        checked = [i for i in self.invariants if i not in ("no-deadlock", "liveness", "deterministic", "message-type")]
        return native().Scenario(host, f"python:{self.app_spec}", checked, self.steps_max,
                                 int(3600 * 1e9))

    def _finish(self, host: host_module.Host, result: Dict[str, Any]) -> Dict[str, Any]:
        if result["failure"] in (3, 4):
            # Who waits on what, in Python terms: each parked thread and pending task.
            stacks = host.python_stacks()
            if stacks:
                result["report"] = result["report"].rstrip("\n") + "\n" + stacks
                result["describe"] = result["describe"].rstrip("\n") + "\n" + stacks
        if host.run is not None:
            result["threads_started"] = host.run.threads_started
            result["threads_alive_max"] = host.run.threads_alive_max
        host.end_run()
        result["unsupported"] = host_module.unsupported()
        result["python_handles"] = 0
        return result

    def run_seed(self, seed: int, keep_trace: bool = False) -> Dict[str, Any]:
        host = self._host()
        result = native().run_seed(self._scenario_object(host), seed, self.options(keep_trace), self.metadata())
        result["seed"] = seed
        return self._finish(host, result)

    def run_bytes(self, data: bytes, host: host_module.Host) -> Dict[str, Any]:
        """One run whose choices are read from fuzz bytes (asgisim/fuzzing.py); ``host``
        is kept from run to run in one process."""
        result = native().run_bytes(self._scenario_object(host), data, self.options(), self.metadata())
        return self._finish(host, result)

    def replay(self, log_text: str, origin: str, strict: bool = True, keep_trace: bool = False,
               host: Optional[host_module.Host] = None) -> Dict[str, Any]:
        host = host or self._host()
        result = native().replay(self._scenario_object(host), log_text, origin, strict, self.options(keep_trace),
                                 self.metadata())
        return self._finish(host, result)

    def shrink(self, seed: int, max_attempts: int = 2000) -> Dict[str, Any]:
        """Shrinks a failing seed; called in the parent: every run of the search (the seed,
        each attempt, the strict confirmation) is a fresh fork, so that no state one
        attempt leaves behind can make the next pass or fail."""
        from . import forking

        def run_one(kind: str, run_seed: int, log_text: str) -> Dict[str, Any]:
            return forking.run_forked(lambda: self.shrink_run(kind, run_seed, log_text))
        return native().shrink(seed, run_one, max_attempts)

    def shrink_run(self, kind: str, seed: int, log_text: str) -> Dict[str, Any]:
        """One run of a shrink, in a forked child."""
        host = self._host()
        result = native().shrink_run(self._scenario_object(host), kind, seed, log_text, self.options(),
                                     self.metadata())
        return self._finish(host, result)

    def mismatches(self, log_metadata: Dict[str, str]) -> List[str]:
        """What a recorded log's header says differently from this target (strict replay refuses)."""
        found = []
        for key, value in self.metadata().items():
            if key in log_metadata and log_metadata[key] != value:
                found.append(f"{key}: the log has {log_metadata[key]!r}, this run {value!r}")
        return found


_LABEL = re.compile(r"[A-Za-z0-9._:/-]+")


class _DryRun:
    """Stands in for a run when a scenario is checked before forking."""

    def choose(self, label: str, n: int) -> int:
        # As the kernel's is_valid_label_name: the decision log keeps labels as tokens.
        if not _LABEL.fullmatch(label):
            raise ValueError(f"bad choice label {label!r}: use letters, digits and . _ - : / only")
        return 0
