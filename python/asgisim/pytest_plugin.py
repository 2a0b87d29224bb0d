"""The pytest plugin: ``pytest -p asgisim.pytest_plugin`` (also auto-loaded through the
``pytest11`` entry point when asgisim's distribution metadata is on the path).

    @pytest.mark.asgisim(seeds=50, strategy="random")
    def test_uploads(asgisim):
        asgisim.run("myapp.main:app", "myapp.sim:uploads")   # a failing seed fails the test

Loading the plugin installs asgisim's threading and clock patches (asgisim/threads.py)
before any test module or conftest imports the app, so the locks the app makes at import
are asgisim's; outside a run they behave as the originals, so pytest itself is unaffected.
Every seed still runs in a fresh fork of the pytest process, never in it.

A run inherits the interpreter's string-hash seed, and ``python3 -m asgisim replay``
(the printed reproduce line) runs with ``PYTHONHASHSEED=0``: when pytest was started
without it, loading the plugin re-executes pytest once with it (only from the command
line, before pytest captures output; else a run fails with a message saying how to set it).
"""

from __future__ import annotations

import os
import sys


def _pytest_command_line() -> bool:
    """Started as ``pytest`` or ``python3 -m pytest``, and output not captured yet."""
    argv0 = sys.argv[0] if sys.argv else ""
    started = (os.path.basename(argv0) in ("pytest", "py.test", "pytest-3")
               or argv0.endswith(os.path.join("pytest", "__main__.py")))
    return started and sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__


def _reexecute_with_hash_seed() -> None:
    if os.environ.get("PYTHONHASHSEED") == "0" or not _pytest_command_line():
        return
    argv = list(getattr(sys, "orig_argv", ()))
    if len(argv) < 2:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [argv[0], *argv[1:]], dict(os.environ, PYTHONHASHSEED="0"))


_reexecute_with_hash_seed()

from . import threads  # noqa: E402

threads.install()  # before any conftest or test module imports the app

import pytest  # noqa: E402

from .pytest_runs import Runner, SessionStats, parse_shard  # noqa: E402

_STATS = pytest.StashKey[SessionStats]()


def pytest_addoption(parser) -> None:
    group = parser.getgroup("asgisim", "asgisim: deterministic simulation of ASGI apps")
    group.addoption("--asgisim-seed", type=int, metavar="S",
                    help="run exactly seed S in every asgisim run (what a failure's reproduce line uses)")
    group.addoption("--asgisim-seeds", type=int, metavar="N",
                    help="seeds per asgisim run, overriding the marker and the fixture's argument")
    group.addoption("--asgisim-seed-base", type=int, metavar="B", help="first seed (default 0)")
    group.addoption("--asgisim-shard", metavar="K/N",
                    help="run only the seed indices i with i %% N == K-1 of every asgisim run")
    group.addoption("--asgisim-jobs", type=int, metavar="N", help="forked runs at once (default 1)")
    group.addoption("--asgisim-regressions", metavar="DIR",
                    help="keep failing seeds' decision logs in DIR and replay them first")
    parser.addini("asgisim_seeds", "seeds per asgisim run when neither the test nor the command line "
                  "says (default 100)", default="100")
    parser.addini("asgisim_jobs", "forked runs at once (default 1)", default="1")
    parser.addini("asgisim_regressions", "the regressions directory (relative to the rootdir); "
                  "--asgisim-regressions overrides it", default="")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "asgisim(app=None, scenario=None, seeds=None, strategy=None, invariants=None, "
                   "pct_depth=None, max_time=None, reorder_callbacks=None, jobs=None): defaults of the "
                   "asgisim fixture's runs in this test")
    shard = config.getoption("--asgisim-shard")
    try:
        stats = SessionStats(shard=parse_shard(shard) if shard else (1, 1))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    for option in ("--asgisim-seeds", "--asgisim-jobs"):
        value = config.getoption(option)
        if value is not None and value < 1:
            raise pytest.UsageError(f"{option} {value}: expected at least 1")
    config.stash[_STATS] = stats


@pytest.fixture
def asgisim(request) -> Runner:
    """Runs a scenario against an app for N seeds, each in a fresh fork: ``asgisim.run(app, scenario)``."""
    return Runner(request, request.config.stash[_STATS])


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    stats = config.stash.get(_STATS, None)
    if stats is None:
        return
    for line in stats.summary_lines(exitstatus):
        terminalreporter.write_line(line)
