"""shrink runs every run of its search in a fresh fork: state one attempt leaves behind
(here a module global) can neither make the next attempt pass nor fail."""

import json
import re
from pathlib import Path

from conftest import EXAMPLES, reproduce_line

# The first request a process serves goes to body_read_twice's failing app, later ones
# to its fixed app; each request writes how many the process has served so far. In
# one process for the whole search, every attempt after the first would pass.
APP = '''
import os

import body_read_twice

COUNTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "served.txt")
served = 0


async def app(scope, receive, send):
    global served
    if scope["type"] == "http":
        served += 1
        with open(COUNTS, "a", encoding="ascii") as handle:
            handle.write(f"{served}\\n")
    inner = body_read_twice.app if served <= 1 else body_read_twice.fixed_app
    await inner(scope, receive, send)


scenario = body_read_twice.scenario
'''


def test_shrink_runs_each_attempt_in_a_fresh_fork(cli, tmp_path: Path):
    (tmp_path / "stateful_app.py").write_text(APP)
    target = ["--app", "stateful_app:app", "--scenario", "stateful_app:scenario"]
    run = cli("run", *target, "--seeds", "20", "--fail-fast", "--json", cwd=tmp_path)
    assert run.returncode in (1, 3, 4), run.output
    seed = json.loads(run.stdout.splitlines()[-1])["seed"]
    counts = tmp_path / "served.txt"
    counts.unlink()
    log = tmp_path / "min.log"
    shrunk = cli("shrink", *target, "--seed", str(seed), "-o", str(log), "--max-attempts", "12", cwd=tmp_path)
    assert shrunk.returncode == run.returncode, shrunk.output
    before, after, attempts = map(int, re.search(r"(\d+) -> (\d+) decisions in (\d+) attempts",
                                                shrunk.output).groups())
    assert after <= before and attempts > 0, shrunk.output
    served = counts.read_text().split()
    # The seed's run, every attempt and the strict confirmation (those whose client
    # reached the app): each in a process of its own, where it is the first request.
    assert 2 <= len(served) <= attempts + 2 and set(served) == {"1"}, served
    replay = cli(*reproduce_line(shrunk.output), cwd=tmp_path)
    assert replay.returncode == run.returncode, replay.output


assert EXAMPLES.is_dir()  # body_read_twice comes from there (conftest puts it on PYTHONPATH)
