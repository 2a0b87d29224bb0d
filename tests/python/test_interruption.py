"""Long sweeps that lose nothing (issue 20), for ``python3 -m asgisim run``: --duration, real
SIGINT/SIGTERM sent to a running process, forked runs that crash, files that cannot be
written, and memory that does not grow with the seeds asked for."""

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BUGGY = ["--app", "body_read_twice:app", "--scenario", "body_read_twice:scenario"]
FIXED = ["--app", "body_read_twice:fixed_app", "--scenario", "body_read_twice:scenario"]
ENDLESS = ["--app", "misbehaving_apps:endless", "--scenario", "misbehaving_apps:scenario"]
CRASHING = ["--app", "misbehaving_apps:crashing", "--scenario", "misbehaving_apps:scenario"]


def _json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def _wait_until_sweeping(process, seconds_after=0.0):
    """Waits for the first line (printed once the app is imported and checked), then a moment more."""
    stderr = process.out_dir / "stderr"
    deadline = time.monotonic() + 120
    while "asgisim run" not in stderr.read_text():
        assert process.poll() is None, stderr.read_text()
        assert time.monotonic() < deadline, "the sweep never started"
        time.sleep(0.05)
    time.sleep(seconds_after)


def _child_pids(pid):
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            pids.append(int(entry.name))
    return pids


def _children(pid):
    return len(_child_pids(pid))


def _wait_for_runs_in_flight(process, count):
    """Waits until ``count`` forked runs exist (each is a run in flight)."""
    deadline = time.monotonic() + 120
    while _children(process.pid) < count:
        assert process.poll() is None, (process.out_dir / "stderr").read_text()
        assert time.monotonic() < deadline, "the runs never started"
        time.sleep(0.02)


def _start_endless(cli, tmp_path):
    """Two forked runs that never end, in flight."""
    process = cli.start("run", *ENDLESS, "--seeds", "10", "--jobs", "2", "--json", out_dir=tmp_path, cwd=HERE)
    _wait_until_sweeping(process)
    _wait_for_runs_in_flight(process, 2)
    return process


def _finish(process, timeout=60):
    process.wait(timeout=timeout)
    process.stdout_text = (process.out_dir / "stdout").read_text()
    process.stderr_text = (process.out_dir / "stderr").read_text()
    process.output = process.stdout_text + process.stderr_text
    return process


def test_duration_runs_a_prefix_of_the_seeds_and_names_it(cli):
    timed = cli("run", *FIXED, "--duration", "2s", "--jobs", "2", "--json")
    assert timed.returncode == 0, timed.output
    report = _json(timed.stdout)
    n = report["seeds_run"]
    assert n > 0 and report["end"] == "deadline" and report["seeds_covered"] == n
    assert report["seeds_ran"] == f"seed indices 0..{n - 1} ({n} seed{'s' * (n != 1)})"
    assert f"time is up (--duration): ran seed indices 0..{n - 1}" in timed.output
    again = _json(cli("run", *FIXED, "--seeds", str(n), "--jobs", "2", "--json").stdout)
    assert (again["seeds_run"], again["end"], again["seeds_ran"]) == (n, "completed", report["seeds_ran"])


def test_seeds_cap_a_duration_and_shards_are_named(cli):
    capped = _json(cli("run", *FIXED, "--duration", "10m", "--seeds", "5", "--json").stdout)
    assert (capped["seeds_run"], capped["end"]) == (5, "completed")
    shard = _json(cli("run", *FIXED, "--duration", "2s", "--shard", "2/3", "--json").stdout)
    n = shard["seeds_run"]
    assert shard["end"] == "deadline" and shard["seeds_covered"] == 2 + (n - 1) * 3
    assert shard["seeds_ran"].startswith("seed indices 1, 4, .. ") and "of shard 2/3" in shard["seeds_ran"]


@pytest.mark.parametrize("text", ["1h30", "0", "5d", "", "m", "31000000"])
def test_bad_durations(cli, text):
    result = cli("run", *FIXED, "--duration", text)
    assert result.returncode == 2 and f"bad --duration '{text}'" in result.stderr, result.output


def test_sigterm_writes_everything_a_finished_sweep_writes(cli, tmp_path):
    junit = tmp_path / "out.xml"
    process = cli.start("run", *BUGGY, "--duration", "10m", "--jobs", "2", "--json", "--junit", str(junit),
                        out_dir=tmp_path)
    _wait_until_sweeping(process, 2.0)
    process.send_signal(signal.SIGTERM)
    result = _finish(process)
    assert result.returncode == 3, result.output  # the most severe class found: deadlock
    report = _json(result.stdout_text)
    n = report["seeds_run"]
    assert n > 0 and report["end"] == "interrupted" and report["signal"] == "SIGTERM"
    assert report["failures"] > 0 and report["seeds_ran"].startswith(f"seed indices 0..{n - 1} ")
    assert "INTERRUPTED (stopped by a signal)" in result.stderr_text
    lines = result.stderr_text.strip().splitlines()
    assert lines[-2] == "most severe: deadlock (exit 3); reproduce it with:"
    assert lines[-1].startswith("python3 -m asgisim replay --app body_read_twice:app ") and report["reproduce"]
    xml = junit.read_text()
    assert 'testsuites name="asgisim (interrupted by SIGTERM)"' in xml
    assert f"({n} seeds, interrupted by SIGTERM)" in xml and "<failure" in xml
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".asgisim-tmp-")]


def test_sigint_with_nothing_failing_exits_130(cli, tmp_path):
    process = cli.start("run", *FIXED, "--seeds", "1000000", "--junit", str(tmp_path / "out.xml"),
                        out_dir=tmp_path)
    _wait_until_sweeping(process, 1.0)
    process.send_signal(signal.SIGINT)
    result = _finish(process)
    assert result.returncode == 130, result.output
    assert "INTERRUPTED (stopped by a signal): ran seed indices 0.." in result.stdout_text
    assert "no failures in what ran (exit 130)" in result.stdout_text
    assert "interrupted by SIGINT" in (tmp_path / "out.xml").read_text()


def test_runs_in_flight_are_abandoned_after_the_grace_period(cli, tmp_path):
    process = _start_endless(cli, tmp_path)
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    result = _finish(process)
    elapsed = time.monotonic() - signalled
    assert result.returncode == 143, result.output
    assert 1.9 <= elapsed < 20, elapsed  # the 2 s grace, then the children are killed
    report = _json(result.stdout_text)
    assert (report["seeds_run"], report["runs_abandoned"], report["seeds_ran"]) == (0, 2, "no seeds")
    assert "2 runs in flight abandoned" in result.stderr_text


def test_a_second_signal_abandons_at_once(cli, tmp_path):
    process = _start_endless(cli, tmp_path)
    signalled = time.monotonic()
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    result = _finish(process)
    elapsed = time.monotonic() - signalled
    assert result.returncode == 130, result.output
    assert elapsed < 1.5, elapsed  # well before the 2 s grace period ends
    assert "second signal: abandoning the runs in flight" in result.stderr_text
    assert _json(result.stdout_text)["runs_abandoned"] == 2


def test_a_crashing_run_is_reported_and_the_sweep_goes_on(cli, tmp_path):
    junit = tmp_path / "out.xml"
    result = cli("run", *CRASHING, "--seeds", "12", "--jobs", "2", "--json", "--junit", str(junit), cwd=HERE)
    assert result.returncode == 2, result.output  # no failure found; crashed runs are errors
    report = _json(result.stdout)
    assert report["seeds_run"] == 12 and report["end"] == "completed"
    crashed = report["crashed"]
    assert report["crashes"] == len(crashed) > 0
    assert {c["how"] for c in crashed} == {"crashed with SIGSEGV", "crashed with SIGABRT"}
    for entry in crashed:
        assert f"asgisim: seed {entry['seed']} (index {entry['index']}) {entry['how']}" in result.stderr
        assert f"  reproduce: {entry['reproduce']}" in result.stderr
    assert f'<error type="crash" message="{len(crashed)} runs crashed">' in junit.read_text()
    # The reproduce line crashes the same way, in a fork, and says so.
    words = crashed[0]["reproduce"].split()[3:]
    again = cli(*words, cwd=HERE)
    assert again.returncode == 2 and crashed[0]["how"] in again.stderr, again.output
    # Crashes do not hide failures: the same seeds of a buggy app still fail with their class.
    assert cli("run", *BUGGY, "--seeds", "3").returncode == 3


def test_junit_that_cannot_be_written(cli, tmp_path):
    missing = tmp_path / "no" / "out.xml"
    early = cli("run", *FIXED, "--seeds", "3", "--junit", str(missing))
    assert early.returncode == 2 and str(missing) in early.stderr  # before the sweep, not after it
    directory = tmp_path / "results"
    directory.mkdir()
    process = cli.start("run", *BUGGY, "--duration", "3s", "--junit", str(directory / "out.xml"),
                        out_dir=tmp_path)
    _wait_until_sweeping(process)
    directory.rmdir()  # removed mid-sweep
    result = _finish(process)
    assert result.returncode == 3, result.output  # the verdict stands
    assert f"cannot write '{directory / 'out.xml'}'" in result.stderr_text
    assert "1 file could not be written" in result.stdout_text


def test_writes_are_atomic(monkeypatch, tmp_path):
    from asgisim import reports
    target = tmp_path / "out.xml"
    target.write_text("old")

    def fail(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        reports.write_atomically(str(target), "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.xml"]
    monkeypatch.undo()
    reports.write_atomically(str(target), "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.xml"]


def test_memory_does_not_grow_with_the_seeds_asked_for(cli, tmp_path):
    process = cli.start("run", *FIXED, "--seeds", "1000000000", "--duration", "3s", "--json", out_dir=tmp_path)
    peak = 0
    while process.poll() is None:
        status = Path(f"/proc/{process.pid}/status")
        try:
            match = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
        except OSError:
            break
        if match:
            peak = max(peak, int(match.group(1)))
        time.sleep(0.1)
    result = _finish(process)
    assert result.returncode == 0, result.output
    assert _json(result.stdout_text)["end"] == "deadline"
    assert 0 < peak < 200_000, peak  # kB; a list of 10^9 seeds would be gigabytes


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_a_killed_replay_leaves_no_run_behind(cli, tmp_path):
    # replay handles no signal: killed (as `timeout` does), its forked run must go too,
    # not keep a wedged thread's watchdog (here 60 s) running as an orphan.
    process = cli.start("replay", "--app", "sync_endpoint:wedged_app", "--scenario", "sync_endpoint:scenario",
                        "--seed", "0", "--watchdog", "60", out_dir=tmp_path)
    deadline = time.monotonic() + 120
    runs = []
    while not runs:  # the run's fork exists once the app is imported and the target checked
        assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr").read_text()
        time.sleep(0.05)
        runs = _child_pids(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == -signal.SIGTERM
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in runs):
        assert time.monotonic() < deadline, f"orphaned runs still alive: {runs}"
        time.sleep(0.05)
