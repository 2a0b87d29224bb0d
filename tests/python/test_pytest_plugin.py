"""The pytest plugin (asgisim.pytest_plugin), through pytester: each inner pytest runs in a new
process started as a developer would start it (without PYTHONHASHSEED), on the examples."""

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from conftest import EXAMPLES

pytest_plugins = ["pytester"]

# Resolved now: pytester changes the working directory before each test.
INHERITED = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]

BUGGY_AND_FIXED = """
import pytest

@pytest.mark.asgisim(seeds=20)
def test_body_read_twice(asgisim):
    asgisim.run("body_read_twice:app", "body_read_twice:scenario")

def test_fixed(asgisim):
    result = asgisim.run("body_read_twice:fixed_app", "body_read_twice:scenario", seeds=20)
    assert result.passed and result.seeds_run == 20
"""

SEEDS = """
import pytest

@pytest.mark.asgisim(app="body_read_twice:fixed_app", scenario="body_read_twice:scenario", seeds=7)
def test_seeds(asgisim):
    result = asgisim.run()
    print("SEEDS", result.seeds)
"""


@pytest.fixture
def inner(pytester, monkeypatch):
    """pytester with the examples importable and the native module required."""
    try:
        import asgisim._native  # noqa: F401
    except ImportError as error:
        pytest.skip(f"asgisim._native is not built: {error}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(EXAMPLES), *INHERITED]))
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)  # the plugin must fix it itself
    return pytester


def _shell(line, cwd):
    """A printed command, run as printed in a new shell, where `python3` is this interpreter."""
    bin_dir = cwd / "bin"
    if not bin_dir.exists():
        bin_dir.mkdir()
        (bin_dir / "python3").symlink_to(sys.executable)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    process = subprocess.run(["sh", "-c", line], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    return process.returncode, process.stdout + process.stderr


def _reproduce_lines(output):
    lines = [line.strip() for line in output.splitlines()]
    start = lines.index("reproduce it (each command fails the same way, in a new process):")
    return lines[start + 1], lines[start + 2]


def test_failing_test_prints_commands_that_fail_the_same_way(inner):
    inner.makepyfile(test_app=BUGGY_AND_FIXED)
    result = inner.runpytest_subprocess("-p", "asgisim.pytest_plugin", "--junitxml=out.xml")
    result.assert_outcomes(failed=1, passed=1)
    output = result.stdout.str()
    assert "fails no-deadlock (deadlock), blamed on scheduler, at seed 0" in output
    assert "Python threads and tasks at the end of the run" in output
    assert re.search(r'File ".*body_read_twice\.py", line \d+, in echo', output)
    trace_hash = re.search(r"trace hash: (0x[0-9a-f]{16})", output).group(1)
    pytest_line, replay_line = _reproduce_lines(output)
    assert pytest_line == "python3 -m pytest -p asgisim.pytest_plugin test_app.py::test_body_read_twice " \
                          "--asgisim-seed 0"
    assert replay_line.startswith("python3 -m asgisim replay --app body_read_twice:app ")

    code, again = _shell(pytest_line, inner.path)
    assert code == 1, again
    assert f"trace hash: {trace_hash}" in again and "1 failed" in again
    code, replayed = _shell(replay_line, inner.path)
    assert code == 3, replayed
    assert f"trace hash {trace_hash}" in replayed

    suite = ElementTree.parse(inner.path / "out.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failure = cases["test_body_read_twice"].find("failure")
    assert "no-deadlock" in failure.get("message") and replay_line in failure.get("message")
    properties = {p.get("name"): p.get("value") for p in cases["test_body_read_twice"].iter("property")}
    assert properties["asgisim_reproduce"] == replay_line
    assert cases["test_fixed"].find("failure") is None


def test_seed_options_and_shards(inner):
    inner.makepyfile(test_seeds=SEEDS)
    ran = {}
    for options in ([], ["--asgisim-seeds", "3"], ["--asgisim-shard", "2/3"], ["--asgisim-seed", "5"],
                    ["--asgisim-seed-base", "100", "--asgisim-seeds", "2"]):
        result = inner.runpytest_subprocess("-s", *options)  # auto-loaded through the entry point
        result.assert_outcomes(passed=1)
        ran[" ".join(options)] = re.search(r"SEEDS (\[.*\])", result.stdout.str()).group(1)
    assert ran == {"": "[0, 1, 2, 3, 4, 5, 6]", "--asgisim-seeds 3": "[0, 1, 2]",
                   "--asgisim-shard 2/3": "[1, 4]", "--asgisim-seed 5": "[5]",
                   "--asgisim-seed-base 100 --asgisim-seeds 2": "[100, 101]"}


def test_a_shard_with_no_seeds_skips_and_says_why(inner):
    inner.makepyfile(test_seeds=SEEDS.replace("seeds=7", "seeds=2"))
    result = inner.runpytest_subprocess("--asgisim-shard", "4/4", "-rs", "--junitxml=out.xml")
    result.assert_outcomes(skipped=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["asgisim: shard 4/4 simulated nothing*"])
    result.stdout.fnmatch_lines(["SKIPPED*shard 4/4 holds none of this run's 2 seed indices (0..1)*"])
    suite = ElementTree.parse(inner.path / "out.xml").getroot().find("testsuite")
    assert suite.get("skipped") == "1"


def test_no_tests_collected_is_explained(inner):
    inner.makepyfile(test_nothing="")
    result = inner.runpytest_subprocess("--asgisim-shard", "1/2")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["asgisim: pytest collected no tests (exit code 5), so no seed ran in shard 1/2*"])


def test_bad_settings_are_usage_errors(inner):
    inner.makepyfile(test_seeds=SEEDS.replace("seeds=7", "seeds=7, sedes=3"))
    result = inner.runpytest_subprocess()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*@pytest.mark.asgisim: unknown argument 'sedes'*"])
    result = inner.runpytest_subprocess("--asgisim-shard", "3/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--asgisim-shard 3/2: K must be between 1 and N*"])


def test_loaded_from_a_conftest_it_needs_the_hash_seed(inner, monkeypatch):
    """In a conftest the plugin loads after pytest captures output, too late to re-execute."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    inner.makeconftest('pytest_plugins = ["asgisim.pytest_plugin"]')
    inner.makepyfile(test_seeds=SEEDS)
    result = inner.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*PYTHONHASHSEED is not 0*set PYTHONHASHSEED=0*"])
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    inner.runpytest_subprocess().assert_outcomes(passed=1)


def test_regressions_directory_is_replayed_first(inner):
    inner.makepyfile(test_app=BUGGY_AND_FIXED)
    first = inner.runpytest_subprocess("--asgisim-regressions", "reg", "-k", "read_twice")
    first.assert_outcomes(failed=1)
    stored = sorted((inner.path / "reg" / "body_read_twice-app" / "body_read_twice-scenario").iterdir())
    assert [p.suffix for p in stored] == [".decisions"]
    # The next session replays the stored log before any seed: with seeds from 1,000 on
    # (which would fail elsewhere), the failure is the stored one.
    again = inner.runpytest_subprocess("--asgisim-regressions", "reg", "-k", "read_twice",
                                       "--asgisim-seed-base", "1000")
    again.assert_outcomes(failed=1)
    output = again.stdout.str()
    assert f"at the stored regression {stored[0]}" in output
    trace_hash = re.search(r"trace hash: (0x[0-9a-f]{16})", output).group(1)
    pytest_line, replay_line = _reproduce_lines(output)
    assert pytest_line.endswith("test_app.py::test_body_read_twice --asgisim-regressions reg")
    assert replay_line.endswith(f"--schedule {stored[0]}")
    code, replayed = _shell(replay_line, inner.path)
    assert code == 3 and f"trace hash {trace_hash}" in replayed, replayed


def test_cli_regressions_directory(cli, tmp_path):
    """python3 -m asgisim run --regressions: failing seeds kept, replayed first next time."""
    target = ["--app", "body_read_twice:app", "--scenario", "body_read_twice:scenario"]
    first = cli("run", *target, "--seeds", "3", "--regressions", str(tmp_path / "reg"), "--json")
    assert first.returncode == 3, first.output
    stored = list((tmp_path / "reg" / "body_read_twice-app" / "body_read_twice-scenario").glob("*.decisions"))
    failures = int(re.search(r'"failures": (\d+)', first.stdout).group(1))
    assert failures >= 1 and len(stored) == failures
    fixed = cli("run", "--app", "body_read_twice:fixed_app", "--scenario", "body_read_twice:scenario",
                "--seeds", "2", "--regressions", str(tmp_path / "reg"))
    assert fixed.returncode == 0 and "regressions: 0 replayed" in fixed.output, fixed.output
    again = cli("run", *target, "--seeds", "1", "--seed-base", "1", "--regressions", str(tmp_path / "reg"),
                "--junit", str(tmp_path / "out.xml"))
    assert again.returncode == 3, again.output
    assert f"regressions: {failures} replayed, {failures} failing again" in again.output
    assert "a stored regression fails again; reproduce it with:" in again.output
    assert any(line.startswith("python3 -m asgisim replay") and "--schedule " + str(tmp_path / "reg") in line
               for line in again.output.splitlines())


THREADED = '''
import threading
import time

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgisim import NEVER, Request

LOCK = threading.Lock()  # made at import, after the plugin's patches: a kernel lock inside a run


def work(request):  # a def endpoint: on anyio's worker threads
    with LOCK:
        time.sleep(0.01)
    return PlainTextResponse("done")


app = Starlette(routes=[Route("/work", work)])


def three_at_once(s):
    for _ in range(3):
        s.client(Request("GET", "/work", read_pause=0, disconnect=NEVER), pauses=(0.0,))
    s.threads_bound = 1
    s.check("threads-bounded")


def test_threads(asgisim):
    from asgisim import threads
    assert type(LOCK) is threads.Lock  # the plugin patched threading before this import
    result = asgisim.run("test_threaded:app", "test_threaded:three_at_once", seeds=10, check=False)
    assert result.failure is not None and result.failure.invariant == "threads-bounded", result
    print("FOUND", result.failure.seed, result.failure.layer)
'''


def test_sync_code_on_threads_under_the_plugin(inner):
    """A def endpoint on real threads with a lock made at import: the runs fork from the pytest
    process, whose threading the plugin patched before the test module imported the app."""
    inner.makepyfile(test_threaded=THREADED)
    result = inner.runpytest_subprocess("-s", "-p", "asgisim.pytest_plugin")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*FOUND * threads*"])


def test_the_documented_example_runs(inner):
    """examples/python/test_with_pytest.py, run as docs/python.md says."""
    process = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_with_pytest.py"],
                             cwd=EXAMPLES, capture_output=True, text=True, timeout=600,
                             env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert process.returncode == 0, process.stdout + process.stderr
    assert "3 passed" in process.stdout
    assert re.search(r"asgisim: 3 runs, \d+ seeds, 1 failing", process.stdout), process.stdout
