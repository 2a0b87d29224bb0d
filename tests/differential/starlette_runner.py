#!/usr/bin/python3
"""Runs differential cases against the real Starlette and prints what was observed.

    /usr/bin/python3 tests/differential/starlette_runner.py CASE.json
    /usr/bin/python3 tests/differential/starlette_runner.py --cases cases.jsonl [-o out.jsonl]
    ... --starlette-path /tmp/starlette-0.21.0     # a tree holding starlette/, put first

One observation (canonical JSON: sorted keys, no spaces) per case, in input order. The
formats are in CASE_FORMAT.md. Exit status: 0 all cases ran, 1 a case failed to run
(its line carries "error"), 2 bad usage or a malformed case file.

Use Debian's /usr/bin/python3 (Starlette 0.26.1 and anyio 3.6.2 from python3-starlette
and python3-anyio); older Starlette trees run on the same anyio.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
from typing import Any, Dict, Iterable, List, Optional, TextIO, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from case_format import (DEFAULT_STEP_BUDGET, DEFAULT_TIMEBOX_S, FORMAT_VERSION,  # noqa: E402
                         FormatError, summarise, validate_case)

# Steps a hung case may take to unwind after the time box before the run is abandoned.
_CLEANUP_STEPS = 10_000
_perturbation: List[Any] = []
# Cyclic garbage is collected between cases, every so many cases (a collection costs
# more than a case).
_COLLECT_EVERY = 64
_cases_since_collect = 0
_versions_cache: Dict[str, str] = {}


def _versions() -> Dict[str, str]:
    if _versions_cache:
        return _versions_cache
    import starlette

    try:
        from importlib.metadata import version
        anyio_version = version("anyio")
    except Exception:  # pragma: no cover - metadata missing
        anyio_version = "unknown"
    _versions_cache.update({
        "starlette": starlette.__version__, "anyio": anyio_version,
        "python": platform.python_version(),
        "starlette_path": os.path.dirname(os.path.dirname(starlette.__file__))})
    # Everything imported so far lives for the whole process: keep it out of the
    # per-case collections below, which then cost little.
    gc.collect()
    gc.freeze()
    return _versions_cache


class _RunnerStuck(RuntimeError):
    pass


_free_threads = False  # the --free-threads probe


def run_case(case: Dict[str, Any]) -> Dict[str, Any]:
    """Runs one case (a dict in the case format) and returns its observation dict."""
    global _cases_since_collect
    import anyio

    from asgi_server import Recorder, RequestResponseCycle
    from stack import build_app
    from virtual_loop import VirtualClock, VirtualClockPolicy, install_deterministic_worker_threads

    validate_case(case)
    if not _free_threads:
        install_deterministic_worker_threads()
    versions = _versions()
    limits = case.get("limits", {})
    timebox_s = float(limits.get("timebox_s", DEFAULT_TIMEBOX_S))
    step_budget = int(limits.get("step_budget", DEFAULT_STEP_BUDGET))

    record = Recorder()
    clock = VirtualClock(timebox_s, step_budget, on_expired=record.stop)
    cycle = RequestResponseCycle(case, record)
    app = build_app(case, record)

    original_count_step = clock.count_step

    def count_step() -> None:
        original_count_step()
        if clock.steps > step_budget + _CLEANUP_STEPS:
            raise _RunnerStuck(f"the app did not unwind within {_CLEANUP_STEPS} steps "
                               "after the time box")
    clock.count_step = count_step  # type: ignore[method-assign]

    async def serve() -> None:
        with anyio.move_on_after(timebox_s):  # the time box, on the virtual clock
            await cycle.run_asgi(app)

    gc_was_enabled = gc.isenabled()
    gc.disable()  # cyclic garbage (and async-generator finalizers) wait until the case ends
    policy = VirtualClockPolicy(clock)
    try:
        anyio.run(serve, backend="asyncio", backend_options={"policy": policy})
    finally:
        record.active = False
        policy.forget_loop()
        _cases_since_collect += 1
        if _cases_since_collect >= _COLLECT_EVERY:  # between cases, never inside one
            _cases_since_collect = 0
            gc.collect()
        if gc_was_enabled:
            gc.enable()

    middleware_kinds = [entry["kind"] for entry in case["stack"]["middleware"]]
    observation: Dict[str, Any] = {"format": FORMAT_VERSION, "id": case["id"]}
    observation.update(summarise(record.events, middleware_kinds,
                                 case["stack"]["endpoint"]["background"] is not None))
    observation["events"] = record.events
    observation["meta"] = {**versions, "loop_steps": clock.steps,
                           "virtual_time_s": clock.now_s}
    return observation


def canonical(observation: Dict[str, Any]) -> str:
    return json.dumps(observation, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _perturb(seed: int, index: int) -> None:
    """Shifts heap addresses (and so the iteration order of id-hashed sets) per case."""
    rng = random.Random(seed * 1_000_003 + index)
    _perturbation.clear()
    for _ in range(rng.randrange(1, 2000)):  # every pymalloc size class, some kept
        _perturbation.append(bytes(rng.randrange(1, 600)))
    del _perturbation[::rng.randrange(2, 5)]


class _Options:
    perturb_seed: Optional[int] = None
    strip_meta = False


def _run_line(numbered: Tuple[int, str]) -> Tuple[int, str]:
    """(line number, text) -> (status, output line or error message); status as main."""
    number, line = numbered
    try:
        case = json.loads(line)
    except json.JSONDecodeError as exc:
        return 2, f"line {number}: not JSON: {exc}"
    if _Options.perturb_seed is not None:
        _perturb(_Options.perturb_seed, number)
    try:
        observation = run_case(case)
    except FormatError as exc:
        return 2, f"line {number}: {exc}"
    except Exception as exc:  # a runner failure: report it in-line and go on
        observation = {"format": FORMAT_VERSION, "id": case.get("id"),
                       "error": f"{type(exc).__name__}: {exc}"}
        if _Options.strip_meta:
            observation.pop("meta", None)
        return 1, canonical(observation)
    if _Options.strip_meta:
        observation.pop("meta", None)
    return 0, canonical(observation)


def _run_lines(lines: Iterable[str], out: TextIO, jobs: int) -> int:
    numbered = ((number, line) for number, line in enumerate(lines, 1) if line.strip())
    status = 0
    pool = None
    if jobs > 1:
        import multiprocessing

        # fork: the workers inherit sys.path (--starlette-path) and the probes.
        pool = multiprocessing.get_context("fork").Pool(jobs)
        results: Iterable[Tuple[int, str]] = pool.imap(_run_line, numbered, chunksize=16)
    else:
        results = map(_run_line, numbered)
    try:
        for line_status, text in results:
            if line_status == 2:
                print(text, file=sys.stderr)
                return 2
            status = max(status, line_status)
            out.write(text + "\n")
    finally:
        if pool is not None:
            pool.terminate()
    out.flush()
    return status


def _backfill_typing_extensions() -> None:
    """Starlette from 0.47 and anyio 4 import names that Debian 12's typing_extensions
    (4.4.0) lacks; both use them for type checking only (``TypeIs`` in annotations, the
    ``deprecated`` decorator's warning), so stand-ins that change no behaviour the runner
    observes let their trees run on Debian's interpreter."""
    import typing_extensions

    if not hasattr(typing_extensions, "TypeIs"):
        typing_extensions.TypeIs = typing_extensions.TypeGuard
    if not hasattr(typing_extensions, "deprecated"):
        def deprecated(message, /, *, category=DeprecationWarning, stacklevel=1):
            return lambda thing: thing

        typing_extensions.deprecated = deprecated


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", nargs="?", help="a JSON file holding one case")
    parser.add_argument("--cases", help="a JSONL file, one case per line ('-' for stdin)")
    parser.add_argument("-o", "--output", help="write observations here instead of stdout")
    parser.add_argument("--starlette-path",
                        help="a directory holding a starlette/ package, imported first")
    parser.add_argument("--anyio-path",
                        help="a directory holding an anyio/ package (e.g. src/ of an anyio "
                             "4 tree), imported first")
    parser.add_argument("--no-meta", action="store_true",
                        help="omit the meta section (versions, loop steps)")
    parser.add_argument("--perturb", type=int, metavar="SEED",
                        help="shift heap layout before each case (nondeterminism probe)")
    parser.add_argument("--cancel-order", metavar="ORDER",
                        help="probe: anyio cancels a scope's tasks in this order "
                             "(insertion, reverse, random:SEED) instead of address order")
    parser.add_argument("--free-threads", action="store_true",
                        help="probe: let anyio's worker threads run freely (OS timing "
                             "decides when their results reach the loop)")
    parser.add_argument("-j", "--jobs", type=int, default=1,
                        help="worker processes (output order is unchanged)")
    args = parser.parse_args(argv)
    _Options.perturb_seed, _Options.strip_meta = args.perturb, args.no_meta
    if (args.case is None) == (args.cases is None):
        parser.error("give exactly one of CASE.json or --cases FILE.jsonl")
    if args.starlette_path:
        path = os.path.abspath(args.starlette_path)
        if not os.path.isdir(os.path.join(path, "starlette")):
            parser.error(f"{path} holds no starlette/ package")
        sys.path.insert(0, path)
    if args.anyio_path:
        path = os.path.abspath(args.anyio_path)
        if not os.path.isdir(os.path.join(path, "anyio")):
            parser.error(f"{path} holds no anyio/ package")
        sys.path.insert(0, path)
    _backfill_typing_extensions()
    if args.free_threads:
        global _free_threads
        _free_threads = True
    if args.cancel_order:
        from virtual_loop import install_cancel_order
        install_cancel_order(args.cancel_order)

    out = open(args.output, "w", encoding="ascii") if args.output else sys.stdout
    try:
        if args.case is not None:
            with open(args.case, encoding="utf-8") as handle:
                text = json.dumps(json.load(handle))
            return _run_lines([text], out, 1)
        if args.cases == "-":
            return _run_lines(sys.stdin, out, args.jobs)
        with open(args.cases, encoding="utf-8") as handle:
            return _run_lines(handle, out, args.jobs)
    finally:
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    sys.exit(main())
