"""Sync code on real threads under the kernel's baton (issue 14's done-when 1 to 4)."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from conftest import EXAMPLES, _env, reproduce_line

HERE = Path(__file__).resolve().parent


def thread_runs(app, scenario, seeds, *, stats=None, strategy="random", jobs=2):
    """Per-seed results of thread_runs.py (each seed in a fresh fork, in a new process)."""
    command = [sys.executable, str(HERE / "thread_runs.py"), app, scenario, "--seeds", str(seeds),
               "--strategy", strategy, "--jobs", str(jobs)]
    if stats:
        command += ["--stats", stats]
    process = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=EXAMPLES, timeout=1200)
    assert process.returncode == 0, process.stdout + process.stderr
    results = [json.loads(line) for line in process.stdout.splitlines()]
    assert [r["seed"] for r in results] == list(range(seeds))
    return results


def test_200_concurrent_sync_requests_use_exactly_40_threads_on_every_seed(cli):
    for result in thread_runs("thread_pool:app", "thread_pool:concurrent", 200, stats="thread_pool:stats"):
        assert result["failure"] == 0, result["describe"]
        assert result["stats"] == {"threads": 40, "in_flight_max": 40}, result
        assert result["threads_started"] == 40 and result["threads_alive_max"] == 40, result


def test_200_sequential_sync_requests_use_one_thread_on_every_seed(cli):
    for result in thread_runs("thread_pool:app", "thread_pool:sequential", 200, stats="thread_pool:stats"):
        assert result["failure"] == 0, result["describe"]
        assert result["stats"] == {"threads": 1, "in_flight_max": 1}, result
        assert result["threads_started"] == 1, result


def test_threads_bounded_fails_when_the_pool_passes_the_bound(cli):
    # The same sweep with a bound of 39: the 40th thread is reported, on real threads.
    result = cli("run", "--app", "thread_pool:app", "--scenario", "thread_pool:concurrent_bound_39",
                 "--seeds", "3", "--json")
    assert result.returncode == 1, result.output
    summary = json.loads(result.stdout.splitlines()[-1]) if result.stdout.strip().startswith("{") else None
    assert "threads-bounded" in result.output, result.output
    assert summary is None or summary["failures"] == 3


def test_fastapi_3205_pattern_deadlocks_and_the_report_names_pool_and_limiter(cli):
    result = cli("run", "--app", "fastapi_pool:app_before_0_82", "--scenario", "fastapi_pool:burst",
                 "--seeds", "20", "--fail-fast")
    assert result.returncode == 3, result.output
    assert "wait for a connection of SQLAlchemy QueuePool" in result.output
    assert "wait for a token of anyio CapacityLimiter (40 of 40 tokens borrowed)" in result.output
    first_hash = re.search(r"trace hash (0x[0-9a-f]+)", result.output).group(1)
    replayed = cli(*reproduce_line(result.output))
    assert replayed.returncode == 3, replayed.output
    assert first_hash in replayed.output


def test_fastapi_3205_pattern_with_the_pool_timeout_stalls(cli):
    result = cli("run", "--app", "fastapi_pool:app_before_0_82_timeout", "--scenario", "fastapi_pool:burst",
                 "--seeds", "10", "--fail-fast")
    assert result.returncode == 1, result.output
    assert "request-latency" in result.output


def test_fastapi_092_exit_limiter_passes_100_seeds(cli):
    result = cli("run", "--app", "fastapi_pool:app", "--scenario", "fastapi_pool:burst", "--seeds", "100",
                 "--jobs", "2", timeout=1800)
    assert result.returncode == 0, result.output


def test_fastapi_092_exit_limiter_passes_1000_seeds(cli):
    result = cli("run", "--app", "fastapi_pool:app", "--scenario", "fastapi_pool:burst", "--seeds", "1000",
                 "--jobs", "2", timeout=3600)
    assert result.returncode == 0, result.output


def test_time_sleep_in_a_sync_endpoint_is_virtual(cli):
    start = time.monotonic()
    result = cli("run", "--app", "sync_endpoint:sleepy_app", "--scenario", "sync_endpoint:scenario", "--seeds", "20")
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.output
    assert elapsed < 60, f"20 runs of a 5 s sleep took {elapsed:.1f} s of wall-clock time"


def test_a_real_socket_in_a_sync_endpoint_is_an_escape_report_not_a_hang(cli):
    result = cli("run", "--app", "sync_endpoint:socket_app", "--scenario", "sync_endpoint:scenario", "--seeds", "2",
                 timeout=120)
    assert result.returncode == 4, result.output
    assert "escapes the simulation in thread 'AnyIO worker thread' #1: socket.getaddrinfo()" in result.output
    assert 'sync_endpoint.py", line' in result.output and "in connect" in result.output


def test_a_thread_blocked_outside_the_simulation_is_caught_by_the_watchdog(cli):
    start = time.monotonic()
    result = cli("run", "--app", "sync_endpoint:wedged_app", "--scenario", "sync_endpoint:scenario", "--seeds", "1",
                 "--watchdog", "1", timeout=120)
    assert result.returncode == 4, result.output
    assert "did not come back within the watchdog's 1000 ms" in result.output
    assert "_held.acquire()" in result.output  # the call that escaped, from the thread's stack
    assert time.monotonic() - start < 60


def test_bad_watchdog_is_a_usage_error(cli):
    result = cli("run", "--app", "thread_pool:app", "--scenario", "thread_pool:concurrent", "--watchdog", "0")
    assert result.returncode == 2 and "--watchdog 0.0: expected a number of seconds above 0" in result.output


def test_runs_with_threads_replay_with_the_same_trace_hash_in_fresh_processes(cli):
    hashes = set()
    for _ in range(2):
        result = cli("replay", "--app", "thread_pool:app", "--scenario", "thread_pool:concurrent", "--seed", "7")
        assert result.returncode == 0, result.output
        hashes.add(re.search(r"trace hash (0x[0-9a-f]+)", result.output).group(1))
    assert len(hashes) == 1, hashes
    runs = thread_runs("fastapi_pool:app", "fastapi_pool:burst", 4, jobs=2)
    again = thread_runs("fastapi_pool:app", "fastapi_pool:burst", 4, jobs=1)
    assert [r["trace_hash"] for r in runs] == [r["trace_hash"] for r in again]
    assert len({r["trace_hash"] for r in runs}) == 4  # the seeds do make different runs


def test_memory_budget_charges_each_real_thread(cli):
    result = cli("run", "--app", "thread_pool:app", "--scenario", "thread_pool:concurrent_memory", "--seeds", "2")
    assert result.returncode == 1, result.output
    assert "memory-budget" in result.output, result.output


def test_asyncio_to_thread_run_in_executor_and_thread_pool_executor_run_unmodified(cli):
    for result in thread_runs("thread_pool:asyncio_app", "thread_pool:asyncio_clients", 20,
                              stats="thread_pool:answers"):
        assert result["failure"] == 0, result["describe"]
        assert result["stats"] == {"answers": [[4, 9, 16]] * 5}, result
