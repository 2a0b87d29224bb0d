"""Shared helpers: run ``python3 -m asgisim`` in a new process on the examples."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "python"


def _env():
    env = dict(os.environ)
    inherited = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES), *inherited])
    env.pop("PYTHONHASHSEED", None)  # the CLI must fix it itself
    return env


class Cli:
    def __init__(self):
        self.started = []  # killed at the test's end if still running (a failed test's endless sweep)

    def __call__(self, *args, cwd=None, timeout=600):
        process = subprocess.run([sys.executable, "-m", "asgisim", *args], capture_output=True, text=True,
                                 env=_env(), cwd=cwd or EXAMPLES, timeout=timeout)
        process.output = process.stdout + process.stderr
        return process

    def start(self, *args, out_dir, cwd=None):
        """A running ``python3 -m asgisim`` (to send signals to); stdout and stderr go to files."""
        stdout, stderr = open(out_dir / "stdout", "w"), open(out_dir / "stderr", "w")
        process = subprocess.Popen([sys.executable, "-m", "asgisim", *args], stdout=stdout, stderr=stderr,
                                   env=_env(), cwd=cwd or EXAMPLES)
        stdout.close()
        stderr.close()
        process.out_dir = out_dir
        self.started.append(process)
        return process


@pytest.fixture
def cli():
    try:
        import asgisim._native  # noqa: F401
    except ImportError as error:
        pytest.skip(f"asgisim._native is not built: {error}")
    cli = Cli()
    yield cli
    for process in cli.started:  # its forked runs die with it (forking.py)
        if process.poll() is None:
            process.kill()
            process.wait()


def reproduce_line(output: str) -> list:
    import shlex
    for line in output.splitlines():
        if line.strip().startswith("reproduce:"):
            words = shlex.split(line.split("reproduce:", 1)[1])
            assert words[:3] == ["python3", "-m", "asgisim"]
            return words[3:]
    raise AssertionError("no reproduce line in:\n" + output)
