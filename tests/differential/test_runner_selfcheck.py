#!/usr/bin/python3
"""Self-check of the real side of the differential tests.

    /usr/bin/python3 tests/differential/test_runner_selfcheck.py [-v]

Runs the grid (small by default) through the runner's command line twice, in two
processes that differ in every way that must not matter (case order reversed, hash
seed, heap layout, two worker processes instead of one), then checks that every
observation is valid against case_format.py, that its summary agrees with its events,
and that the two runs agree byte for byte, case by case. It also checks a few known
behaviours of the Starlette under test (the anchors below), so a runner that silently
stopped reproducing the historical bugs fails here.

Environment: DIFF_GRID=small|large, DIFF_STARLETTE_PATH=DIR (a tree holding
starlette/, as --starlette-path), DIFF_JOBS=N (worker processes of the second run).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
STARLETTE_PATH = os.environ.get("DIFF_STARLETTE_PATH")
if STARLETTE_PATH:
    sys.path.insert(0, os.path.abspath(STARLETTE_PATH))

import case_format  # noqa: E402
import generate_cases  # noqa: E402
import starlette_runner  # noqa: E402

GRID = os.environ.get("DIFF_GRID", "small")
JOBS = os.environ.get("DIFF_JOBS", "2")
RUNNER = os.path.join(HERE, "starlette_runner.py")


def _runner_command(cases: str, output: str, *extra: str) -> List[str]:
    command = [sys.executable, RUNNER, "--cases", cases, "-o", output, *extra]
    if STARLETTE_PATH:
        command += ["--starlette-path", STARLETTE_PATH]
    return command


def _load(path: str) -> Dict[str, str]:
    with open(path, encoding="ascii") as handle:
        return {json.loads(line)["id"]: line for line in handle}


class GridSelfCheck(unittest.TestCase):
    """One pair of runs over the grid, shared by the tests of this class."""

    cases: List[Dict[str, Any]]
    first: Dict[str, str]
    second: Dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="asgisim-diff-")
        cls.cases = list(generate_cases.grid(GRID))
        forward = os.path.join(cls.tmp.name, "cases.jsonl")
        backward = os.path.join(cls.tmp.name, "cases-reversed.jsonl")
        with open(forward, "w", encoding="ascii") as handle:
            handle.writelines(json.dumps(case) + "\n" for case in cls.cases)
        with open(backward, "w", encoding="ascii") as handle:
            handle.writelines(json.dumps(case) + "\n" for case in reversed(cls.cases))
        out_first = os.path.join(cls.tmp.name, "first.jsonl")
        out_second = os.path.join(cls.tmp.name, "second.jsonl")
        started = time.monotonic()
        first = subprocess.Popen(_runner_command(forward, out_first),
                                 env={**os.environ, "PYTHONHASHSEED": "0"})
        second = subprocess.Popen(_runner_command(backward, out_second, "--perturb", "17",
                                                  "--jobs", JOBS),
                                  env={**os.environ, "PYTHONHASHSEED": "4242"})
        cls.return_codes = (first.wait(), second.wait())
        cls.elapsed_s = time.monotonic() - started
        cls.first, cls.second = _load(out_first), _load(out_second)
        print(f"\n[selfcheck] grid {GRID}: {len(cls.cases)} cases, two runs in parallel "
              f"took {cls.elapsed_s:.1f} s wall", file=sys.stderr)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def test_runs_succeeded(self) -> None:
        self.assertEqual(self.return_codes, (0, 0))

    def test_one_observation_per_case(self) -> None:
        ids = [case["id"] for case in self.cases]
        self.assertEqual(len(set(ids)), len(ids), "case ids are unique")
        self.assertEqual(sorted(self.first), sorted(ids))
        self.assertEqual(sorted(self.second), sorted(ids))

    def test_observations_are_valid(self) -> None:
        by_id = {case["id"]: case for case in self.cases}
        for case_id, line in self.first.items():
            observation = json.loads(line)
            with self.subTest(case=case_id):
                case_format.validate_observation(observation)
                self.assertEqual(line.rstrip("\n"), starlette_runner.canonical(observation),
                                 "the runner writes canonical JSON")
                case = by_id[case_id]
                kinds = [entry["kind"] for entry in case["stack"]["middleware"]]
                derived = case_format.summarise(
                    observation["events"], kinds,
                    case["stack"]["endpoint"]["background"] is not None)
                for key, value in derived.items():
                    self.assertEqual(observation[key], value, f"summary {key}")

    def test_runs_agree_byte_for_byte(self) -> None:
        differing = [case_id for case_id in self.first
                     if self.first[case_id] != self.second.get(case_id)]
        self.assertEqual(differing[:5], [], f"{len(differing)} cases differ between runs")


def _case(chain: str, ep: Dict[str, Any], disconnect: str = "never",
          body: Tuple[int, ...] = (2, 2)) -> Dict[str, Any]:
    return generate_cases.make_case(generate_cases.chain(chain), ep, body, disconnect,
                                    "drop", "2.3")


def _version() -> Tuple[int, ...]:
    import starlette

    return tuple(int(part) for part in re.findall(r"\d+", starlette.__version__)[:3])


def _index(events: List[Dict[str, Any]], predicate: Any) -> int:
    for index, event in enumerate(events):
        if predicate(event):
            return index
    return -1


def _final_body(event: Dict[str, Any]) -> bool:
    return (event["ev"] == "sent" and event["result"] == "delivered"
            and event["message"]["type"] == "http.response.body"
            and not event["message"]["more_body"])


class KnownBehaviour(unittest.TestCase):
    """Anchors: what each Starlette era is known to do (DESIGN.md, BaseHTTPMiddleware)."""

    def run_case(self, case: Dict[str, Any]) -> Dict[str, Any]:
        observation = starlette_runner.run_case(case)
        case_format.validate_observation(observation)
        return observation

    def test_plain_endpoint(self) -> None:
        observation = self.run_case(_case("", generate_cases.endpoint()))
        self.assertEqual(observation["app"]["outcome"], "returned")
        self.assertEqual(observation["client"]["status"], 200)
        self.assertEqual(observation["client"]["body"], "hello")
        self.assertTrue(observation["client"]["complete"])

    def test_sync_endpoint_and_background(self) -> None:
        ep = generate_cases.endpoint("sync", "streaming", 3, background=("sync", 0))
        observation = self.run_case(_case("", ep))
        self.assertEqual(observation["client"]["body"], "chunk-0chunk-1chunk-2")
        self.assertEqual(observation["background"], {"started": True, "end": "finished"})

    def test_exception_before_start_gives_500(self) -> None:
        ep = generate_cases.endpoint(raises="before_start")
        observation = self.run_case(_case("E", ep))
        self.assertEqual(observation["app"]["exception"], "AppError")
        self.assertEqual(observation["client"]["status"], 500)
        self.assertEqual(observation["client"]["body"], "Internal Server Error")

    def test_inner_context_exit(self) -> None:
        ep = generate_cases.endpoint(background=("async", 1))
        observation = self.run_case(_case("PC", ep))
        expected = "cancelled" if (0, 20, 1) <= _version() < (0, 21) else "done"
        self.assertEqual(observation["contexts"][0]["exit"], expected)

    def test_background_behind_base_http(self) -> None:
        ep = generate_cases.endpoint("async", "streaming", 8, background=("async", 1))
        observation = self.run_case(_case("P", ep))
        expected = "not_started" if (0, 20, 1) <= _version() < (0, 21) else "finished"
        self.assertEqual(observation["background"]["end"], expected)

    def test_completion_waits_for_background(self) -> None:
        ep = generate_cases.endpoint(background=("async", 1))
        events = self.run_case(_case("P", ep))["events"]
        final = _index(events, _final_body)
        finished = _index(events, lambda event: event["ev"] == "background_finished")
        self.assertGreaterEqual(final, 0)
        if (0, 23, 1) <= _version() < (0, 29):  # #1940, fixed by #2194
            self.assertGreater(final, finished)
        else:
            self.assertLess(final, _index(events, lambda e: e["ev"] == "background_started"))

    def test_body_read_twice(self) -> None:
        ep = generate_cases.endpoint(reads="body")
        observation = self.run_case(_case("R", ep))
        if _version() < (0, 28):  # #847, fixed by #1692
            self.assertEqual(observation["app"], {"outcome": "hung", "exception": None,
                                                  "hung_reason": "timebox"})
        else:
            self.assertEqual(observation["app"]["outcome"], "returned")
            self.assertIn({"ev": "endpoint_body_read", "bytes": 4}, observation["events"])


class CaseValidation(unittest.TestCase):
    def test_grid_cases_are_valid(self) -> None:
        for case in generate_cases.grid("small"):
            case_format.validate_case(case)

    def test_bad_cases_are_rejected(self) -> None:
        good = _case("P", generate_cases.endpoint("async", "streaming", 2))
        mutations = [
            ("stack", "middleware", 0, "kind", "nope"),
            ("stack", "endpoint", "raises", "in_background"),   # no background task
            ("client", "disconnect", "mid_body:2"),             # only two chunks
            ("client", "disconnect", "after_send:0"),
            ("server", "spec_version", "3.0"),
        ]
        for *path, value in mutations:
            case = copy.deepcopy(good)
            target = case
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            with self.subTest(path=path):
                with self.assertRaises(case_format.FormatError):
                    case_format.validate_case(case)
        sync = copy.deepcopy(good)
        sync["stack"]["endpoint"].update(kind="sync", reads_body="body")
        with self.assertRaises(case_format.FormatError):
            case_format.validate_case(sync)


if __name__ == "__main__":
    unittest.main()
