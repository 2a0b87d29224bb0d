"""The determinism lint for python/asgisim: nothing outside the choice stream and the
virtual clock may steer a run. A line that is truly outside any run says why with
``# nondeterminism-ok: why``."""

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "asgisim"
FORBIDDEN = re.compile(
    r"\btime\.(time|time_ns|monotonic|monotonic_ns|perf_counter|perf_counter_ns)\(|"
    r"\brandom\.(random|randint|randrange|choice|choices|shuffle|sample|uniform|getrandbits)\(|"
    r"\bos\.urandom\(|\buuid[14]\(|\bthreading\.get_ident\(|(?<![\w.])id\(|\bhash\(")


def test_no_nondeterminism_in_the_bridge():
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if FORBIDDEN.search(line.split("#", 1)[0]) and "nondeterminism-ok:" not in line:
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_lint_catches_a_wall_clock(tmp_path):
    assert FORBIDDEN.search("started = time.time()")
    assert FORBIDDEN.search("key = id(task)")
    assert not FORBIDDEN.search("self.calls += 1")
