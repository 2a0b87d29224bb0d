#!/usr/bin/python3
"""The bridge's oracle: the differential small grid through the bridge under ``fifo``.

    PYTHONPATH=<build>/python:python /usr/bin/python3 tests/differential/bridge_oracle.py \\
        --module-dir <build>/python/oracle [--grid small] [--jobs 2] [--only SUBSTRING] [--every N]

Every case of the grid (``def`` endpoints and sync background tasks included: their
worker threads run under the kernel's baton, asgisim/threads.py) runs twice: on the real side
(``starlette_runner.py`` on stock asyncio, in its own process) and through the
bridge: the same real Starlette stack (``stack.build_app``) as an asgisim PythonApp
on the bridge's SimLoop, stepped by the kernel with the ``fifo`` strategy, behind
the model's server harness (``cpp/uvicorn_harness.cpp``, CASE_FORMAT.md 1.3), in
``_differential_bridge``. The two observations (CASE_FORMAT.md 2, summaries by
``case_format.summarise``) must be equal at the events level, case by case, up to the
loop's shutdown (``before_loop_shutdown``: the bridge runs no ``shutdown_asyncgens``); a
difference names the case and the first differing part. Exit status 0 all agree, 1 a difference, 2 bad usage,
77 skipped (no starlette, or the module is not built).
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from case_format import FORMAT_VERSION, summarise  # noqa: E402
from compare_observations import projection  # noqa: E402
from generate_cases import grid  # noqa: E402

_native: Any = None  # _differential_bridge, imported in main()


class _Record:
    """stack.py's recorder, writing into the run's C++ Recorder (one event list with the harness)."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def __call__(self, ev: str, **fields: Any) -> None:
        self.recorder.record(ev, json.dumps(fields))


class Driver:
    """What _differential_bridge.run_case asks of the Python side for one case."""

    def __init__(self, case: Dict[str, Any]) -> None:
        self.case = case
        self.host: Any = None
        self.app_name = ""

    def begin(self, run: Any, recorder: Any) -> Any:
        from asgisim.host import Host
        from stack import build_app

        self.host = Host(build_app(self.case, _Record(recorder)), scenario=None)
        self.app_name = self.host.app_name
        return self.host.begin_loop(run)

    def start_app_call(self, scope: Dict[str, Any], call: Any) -> None:
        self.host.start_app_call(scope, call)

    def exception_name(self, error: BaseException) -> str:
        from asgi_server import exception_name
        return exception_name(error)

    def end(self) -> None:
        self.host.end_run()


def run_through_bridge(case: Dict[str, Any]) -> Dict[str, Any]:
    result = json.loads(_native.run_case(json.dumps(case), Driver(case)))
    observation: Dict[str, Any] = {"format": FORMAT_VERSION, "id": case["id"]}
    if "error" in result:
        observation["error"] = result["error"]
        return observation
    kinds = [entry["kind"] for entry in case["stack"]["middleware"]]
    observation.update(summarise(result["events"], kinds, case["stack"]["endpoint"]["background"] is not None))
    observation["events"] = result["events"]
    return observation


def before_loop_shutdown(observation: Dict[str, Any]) -> Dict[str, Any]:
    """The observation without what ``asyncio.run`` does after the case (iterators closed by
    ``shutdown_asyncgens``: ``stream_closed`` by ``shutdown``, CASE_FORMAT.md 1.2). The bridge
    ends a run when the kernel's does and runs no ``shutdown_asyncgens`` of its own, so those
    closes never happen there; everything before them is compared."""
    events = observation.get("events")
    if not events or not any(event.get("by") == "shutdown" for event in events):
        return observation
    trimmed = dict(observation)
    trimmed["events"] = [event for event in events
                         if not (event["ev"] == "stream_closed" and event.get("by") == "shutdown")]
    return trimmed


def first_difference(real: Dict[str, Any], bridge: Dict[str, Any]) -> Optional[str]:
    """The first differing part of two observations (events level), or None."""
    left = projection(before_loop_shutdown(real), "events")
    right = projection(before_loop_shutdown(bridge), "events")
    if left == right:
        return None
    if "error" in left or "error" in right:
        return f"error: real {left.get('error')!r}, bridge {right.get('error')!r}"
    events_a, events_b = left["events"], right["events"]
    for index in range(max(len(events_a), len(events_b))):
        a = events_a[index] if index < len(events_a) else None
        b = events_b[index] if index < len(events_b) else None
        if a != b:
            return f"events[{index}]: real {json.dumps(a)}, bridge {json.dumps(b)}"
    for key in left:
        if left[key] != right[key]:
            return f"{key}: real {json.dumps(left[key])}, bridge {json.dumps(right[key])}"
    return "?"


def _bridge_line(case: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    try:
        return case["id"], run_through_bridge(case)
    except Exception as error:  # a bridge failure is a difference, reported per case
        return case["id"], {"format": FORMAT_VERSION, "id": case["id"],
                            "error": f"{type(error).__name__}: {error}"}


def main(argv: Optional[List[str]] = None) -> int:
    global _native
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module-dir", required=True, help="the directory holding _differential_bridge")
    parser.add_argument("--grid", choices=("small", "large", "regressions"), default="small")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", help="run only the cases whose id contains this")
    parser.add_argument("--every", type=int, default=1,
                        help="run every Nth case of the grid (a fixed sample, the same each time)")
    parser.add_argument("--show", type=int, default=20, help="differences to print")
    args = parser.parse_args(argv)
    try:
        import anyio  # noqa: F401
        import starlette  # noqa: F401
    except ImportError:
        print("SKIP: /usr/bin/python3 has no starlette/anyio")
        return 77
    sys.path.insert(0, os.path.abspath(args.module_dir))
    try:
        _native = importlib.import_module("_differential_bridge")
    except ImportError as error:
        print(f"SKIP: _differential_bridge is not built ({error})")
        return 77

    cases = []
    for index, case in enumerate(grid(args.grid)):
        if args.only and args.only not in case["id"]:
            continue
        if index % max(1, args.every) != 0:
            continue
        cases.append(case)
    print(f"grid {args.grid}: {len(cases)} cases through the bridge")

    with tempfile.TemporaryDirectory() as work:
        cases_path, real_path = os.path.join(work, "cases.jsonl"), os.path.join(work, "real.jsonl")
        with open(cases_path, "w", encoding="ascii") as handle:
            for case in cases:
                handle.write(json.dumps(case) + "\n")
        # The real side in its own process: stock asyncio, none of the bridge's pins.
        status = subprocess.call([sys.executable, os.path.join(HERE, "starlette_runner.py"), "--cases",
                                  cases_path, "-j", str(args.jobs), "--no-meta", "-o", real_path])
        if status != 0:
            print(f"the real side failed (exit {status})")
            return 1
        with open(real_path, encoding="ascii") as handle:
            real = {o["id"]: o for o in map(json.loads, handle)}

    with multiprocessing.get_context("fork").Pool(max(1, args.jobs)) as pool:
        bridge = dict(pool.imap(_bridge_line, cases, chunksize=8))
    differences = []
    for case in cases:
        found = first_difference(real[case["id"]], bridge[case["id"]])
        if found is not None:
            differences.append((case["id"], found))
    for case_id, found in differences[:args.show]:
        print(f"DIFFERENT {case_id}: {found}")
    print(f"{len(cases) - len(differences)}/{len(cases)} cases agree at the events level")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
