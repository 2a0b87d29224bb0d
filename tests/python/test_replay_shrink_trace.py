"""Done-when 5: a printed reproduce line, run in a new process, fails the same way with the
same trace hash; shrink gives a shorter log that still fails; trace writes valid JSON."""

import json
import re

from conftest import reproduce_line

APP = ["--app", "body_read_twice:app", "--scenario", "body_read_twice:scenario"]


def _hash(output):
    found = re.findall(r"trace hash (0x[0-9a-f]+)", output)
    assert found, output
    return found[0]


def test_reproduce_line_fails_the_same_way(cli):
    run = cli("run", *APP, "--seeds", "20", "--fail-fast")
    assert run.returncode in (1, 3, 4), run.output
    first_hash = re.search(r"trace hash: (0x[0-9a-f]+)", run.output).group(1)
    replay = cli(*reproduce_line(run.output))
    assert replay.returncode == run.returncode, replay.output
    assert _hash(replay.output) == first_hash


def test_shrink_gives_a_shorter_log_that_still_fails(cli, tmp_path):
    run = cli("run", *APP, "--seeds", "20", "--fail-fast", "--json")
    seed = json.loads(run.stdout.splitlines()[-1])["seed"]
    log = tmp_path / "min.log"
    shrunk = cli("shrink", *APP, "--seed", str(seed), "-o", str(log))
    assert shrunk.returncode == run.returncode, shrunk.output
    before, after = map(int, re.search(r"(\d+) -> (\d+) decisions", shrunk.output).groups())
    assert after <= before
    replay = cli(*reproduce_line(shrunk.output))
    assert replay.returncode == run.returncode, replay.output
    text = log.read_text()
    assert "app body_read_twice:app" in text and "interpreter cpython-3." in text


def test_strict_replay_names_a_mismatch(cli, tmp_path):
    run = cli("run", *APP, "--seeds", "20", "--fail-fast", "--json")
    seed = json.loads(run.stdout.splitlines()[-1])["seed"]
    log = tmp_path / "min.log"
    cli("shrink", *APP, "--seed", str(seed), "-o", str(log))
    other = cli("replay", "--app", "body_read_twice:fixed_app", "--scenario", "body_read_twice:scenario",
                "--schedule", str(log))
    assert other.returncode == 2
    assert "app: the log has 'body_read_twice:app'" in other.output


def test_trace_writes_perfetto_json_with_python_task_names(cli, tmp_path):
    out = tmp_path / "trace.json"
    result = cli("trace", *APP, "--seed", "0", "-o", str(out))
    assert result.returncode == 0, result.output
    data = json.loads(out.read_text())
    events = data["traceEvents"] if isinstance(data, dict) else data
    assert events
    names = json.dumps(events)
    assert "asyncio loop" in names and "request-1" in names
