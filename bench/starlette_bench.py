"""The Python side of bench/compare_python.sh: real Starlette driven at the raw ASGI
level (no sockets), through the uvicorn-like RequestResponseCycle of the differential
runner (tests/differential/asgi_server.py).

Two measurements:

* ``requests``: the stack of asgisim's BM_FullStackRequest, built from real Starlette
  (ServerErrorMiddleware -> BaseHTTPMiddleware with a pass-through dispatch -> Router
  -> ``async def`` endpoint returning PlainTextResponse("Hello") with a BackgroundTask
  that awaits ``anyio.sleep(0)``), N GET requests one after another in one
  ``anyio.run`` on the stock asyncio loop; a request counts once its response is
  complete and its background task has finished. Prints requests per CPU second.
* ``find-1438``: a Hypothesis property over the same stack in the Starlette tree on
  the path (0.20.4 from the mirror for encode/starlette#1438): "the background task of
  every request finishes", with the client's disconnect point and the background
  work's duration drawn by Hypothesis, each example on the virtual-time loop of the
  differential runner (so a 0.1 s sleep costs no real time). Generation only (no
  shrinking, no example database); the time to the first failing example, median over
  R runs with seeds 0..R-1.

  /usr/bin/python3 bench/starlette_bench.py requests --count 20000
  PYTHONPATH=/tmp/starlette-0.20.4 /usr/bin/python3 bench/starlette_bench.py find-1438 --runs 20

Output: one line ``key=value ...`` per measurement, for the shell script to parse.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Dict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(1, os.path.join(HERE, "..", "tests", "differential"))

from asgi_server import Recorder, RequestResponseCycle  # noqa: E402
from virtual_loop import VirtualClock, VirtualClockPolicy  # noqa: E402


def _case(disconnect: str = "never") -> Dict[str, Any]:
    """The differential runner's case fields RequestResponseCycle reads."""
    return {"client": {"body_chunks": [], "disconnect": disconnect},
            "server": {"spec_version": "2.3", "send_after_disconnect": "drop"}}


class Counter:
    def __init__(self) -> None:
        self.finished = 0


def build_app(work_s: float, counter: Counter) -> Any:
    import anyio
    from starlette.background import BackgroundTask
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.middleware.errors import ServerErrorMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, Router

    async def work() -> None:
        await anyio.sleep(work_s)
        counter.finished += 1

    async def endpoint(request: Any) -> Any:
        return PlainTextResponse("Hello", background=BackgroundTask(work))

    async def passthrough(request: Any, call_next: Any) -> Any:
        return await call_next(request)

    router = Router(routes=[Route("/", endpoint)])
    return ServerErrorMiddleware(BaseHTTPMiddleware(router, dispatch=passthrough))


def new_cycle(disconnect: str = "never") -> RequestResponseCycle:
    record = Recorder()
    record.active = False  # no event log (asgisim's benchmark keeps none either)
    cycle = RequestResponseCycle(_case(disconnect), record)
    cycle.scope["method"] = "GET"
    return cycle


def measure_requests(count: int) -> None:
    import anyio
    import starlette

    counter = Counter()
    app = build_app(0, counter)

    async def serve() -> None:
        for i in range(count):
            cycle = new_cycle()
            await cycle.run_asgi(app)
            if not cycle.response_complete:
                raise RuntimeError("the response did not complete")
            while counter.finished <= i:  # 0.26.1 finishes it before the response ends
                await anyio.sleep(0)

    anyio.run(serve)  # warm-up: imports, first-call costs
    counter.finished = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    anyio.run(serve)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(f"starlette={starlette.__version__} requests={count} cpu_s={cpu:.4f} wall_s={wall:.4f} "
          f"requests_per_cpu_s={count / cpu:.1f} requests_per_wall_s={count / wall:.1f}")


def run_one_request(disconnect: str, work_s: float) -> bool:
    """One request on the virtual-time loop; True when its background task finished."""
    import anyio

    counter = Counter()
    app = build_app(work_s, counter)
    cycle = new_cycle(disconnect)
    clock = VirtualClock(60.0, 1_000_000, on_expired=lambda reason: None)
    policy = VirtualClockPolicy(clock)

    async def serve() -> None:
        with anyio.move_on_after(60.0):
            await cycle.run_asgi(app)
            await anyio.sleep(1.0)  # the server keeps running after the response
    try:
        anyio.run(serve, backend="asyncio", backend_options={"policy": policy})
    finally:
        policy.forget_loop()
    return counter.finished == 1


def measure_find_1438(runs: int) -> None:
    import starlette
    from hypothesis import Phase, given, seed, settings
    from hypothesis import strategies as st

    @settings(database=None, phases=[Phase.generate], max_examples=10_000, deadline=None)
    @given(disconnect=st.sampled_from(["never", "after_send:1", "after_send:2"]),
           work_s=st.sampled_from([0.0, 0.001, 0.01, 0.1]))
    def background_completes(disconnect: str, work_s: float) -> None:
        examples[0] += 1
        assert run_one_request(disconnect, work_s), "the background task did not finish"

    seconds = []
    found = []
    for run in range(runs):
        examples = [0]
        start = time.process_time()
        try:
            seed(run)(background_completes)()
        except AssertionError:
            found.append(examples[0])
        seconds.append(time.process_time() - start)
    failed = len(found)
    median_examples = statistics.median(found) if found else 0
    print(f"starlette={starlette.__version__} runs={runs} runs_failed={failed} "
          f"median_cpu_ms_to_failure={statistics.median(seconds) * 1e3:.3f} "
          f"median_examples_to_failure={median_examples}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    requests = sub.add_parser("requests")
    requests.add_argument("--count", type=int, default=20_000)
    find = sub.add_parser("find-1438")
    find.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if args.what == "requests":
        measure_requests(args.count)
    else:
        measure_find_1438(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
