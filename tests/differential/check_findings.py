"""Runs the real-code reproducers of docs/findings.md (examples/findings/) against the real
Starlette and checks each verdict: the bug shows (exit 1) in the versions the finding names
and not (exit 0) in the ones it names as fixed or unaffected.

    /usr/bin/python3 tests/differential/check_findings.py [--out DIR]

Debian's Starlette (0.26.1) always; the tags of STARLETTE_MIRROR (a clone of
Kludex/starlette) when it is set, extracted under --out. Exit 0 when every verdict is as
expected, 1 when one is not, 77 when /usr/bin/python3 lacks starlette.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
FINDINGS = os.path.join(HERE, "..", "..", "examples", "findings")

# (reproducer, Starlette version or "debian", expected exit status)
EXPECTED: List[Tuple[str, str, int]] = [
    ("truncated_stream.py", "debian", 0),  # 0.26.1, before PR #2812
    ("truncated_stream.py", "0.45.3", 0),
    ("truncated_stream.py", "0.46.0", 1),
    ("truncated_stream.py", "1.3.1", 1),
    ("iterator_cleanup.py", "debian", 1),
    ("iterator_cleanup.py", "0.20.4", 1),
    ("iterator_cleanup.py", "1.3.1", 1),
    ("placeholder_in_value.py", "debian", 1),
    ("placeholder_in_value.py", "1.3.1", 1),
]

# Starlette from 0.47 imports typing_extensions names Debian 12's 4.4.0 lacks, for type
# checking only; the stand-ins change nothing the reproducers run.
_BACKFILL = """
import runpy, sys, typing_extensions
if not hasattr(typing_extensions, "TypeIs"):
    typing_extensions.TypeIs = typing_extensions.TypeGuard
if not hasattr(typing_extensions, "deprecated"):
    typing_extensions.deprecated = lambda *args, **kwargs: (lambda thing: thing)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def tree(version: str, out: str) -> Optional[str]:
    """The directory holding Starlette `version`'s starlette/ package, or None without it."""
    mirror = os.environ.get("STARLETTE_MIRROR", "")
    if not mirror:
        return None
    path = os.path.join(out, f"starlette-{version}")
    if not os.path.isdir(os.path.join(path, "starlette")):
        if subprocess.run(["git", "-C", mirror, "rev-parse", "--verify", "-q", f"refs/tags/{version}"],
                          capture_output=True).returncode != 0:
            return None
        os.makedirs(path, exist_ok=True)
        archive = subprocess.run(["git", "-C", mirror, "archive", version, "starlette"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", path], input=archive, check=True)
    return path


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/asgisim-findings", help="where Starlette trees go")
    args = parser.parse_args(argv)
    if subprocess.run([sys.executable, "-c", "import starlette, anyio"], capture_output=True).returncode:
        print("SKIP: no starlette/anyio for this interpreter (apt-get install python3-starlette)")
        return 77
    failures = 0
    for script, version, expected in EXPECTED:
        options: List[str] = []
        if version != "debian":
            path = tree(version, args.out)
            if path is None:
                print(f"skip   {script} on Starlette {version}: needs STARLETTE_MIRROR with that tag")
                continue
            options = ["--starlette-path", path]
        run = subprocess.run([sys.executable, "-c", _BACKFILL, os.path.join(FINDINGS, script), *options],
                             capture_output=True, text=True)
        verdict = {0: "ok", 1: "bug"}.get(run.returncode, f"error {run.returncode}")
        good = run.returncode == expected
        failures += not good
        print(f"{'pass' if good else 'FAIL'}   {script} on Starlette {version}: {verdict} "
              f"(expected {'bug' if expected else 'ok'})")
        if not good:
            print(run.stdout + run.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
