"""The bridge's cost per request, side by side with stock asyncio (issue 13, done-when 6).

The same real Starlette app as bench/starlette_bench.py (ServerErrorMiddleware ->
pass-through BaseHTTPMiddleware -> Router -> ``async def`` endpoint with a
BackgroundTask), N GET requests one after another:

* stock: on the stock asyncio loop through the differential runner's uvicorn-like
  RequestResponseCycle (tests/differential/asgi_server.py), as starlette_bench.py does;
* bridge: one asgisim run under ``fifo``: one client sending the N requests on a
  keep-alive connection to the uvicorn model, the app on the bridge's SimLoop, every
  layer boundary observed and checked, the trace hashed.

  PYTHONPATH=build/dev/python:python /usr/bin/python3 bench/python_bridge_bench.py --count 2000

``--sync`` (issue 14, done-when 5): the endpoint is a ``def`` (Starlette runs it through
anyio's ``to_thread``): on stock asyncio with real worker threads, and under the bridge with
the worker threads under the kernel's baton. CPU time counts every thread of the process.

Wall-clock reads here are outside any run (they time it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import starlette_bench  # noqa: E402


def build(counter: "starlette_bench.Counter", sync: bool):
    if not sync:
        return starlette_bench.build_app(0, counter)
    from starlette.middleware.errors import ServerErrorMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, Router

    def endpoint(request):
        counter.finished += 1
        return PlainTextResponse("Hello")

    return ServerErrorMiddleware(Router(routes=[Route("/", endpoint)]))


def stock_seconds(count: int, sync: bool) -> float:
    import anyio
    counter = starlette_bench.Counter()
    app = build(counter, sync)

    async def serve() -> None:
        for i in range(count):
            cycle = starlette_bench.new_cycle()
            await cycle.run_asgi(app)
            while counter.finished <= i:
                await anyio.sleep(0)

    anyio.run(serve)  # warm-up
    start = time.process_time()  # nondeterminism-ok: benchmark timing outside any run
    anyio.run(serve)
    return time.process_time() - start  # nondeterminism-ok: benchmark timing


def bridge_seconds(count: int, sync: bool) -> float:
    from asgisim import NEVER, Request, pins, threads
    from asgisim.session import Target

    threads.install()
    counter = starlette_bench.Counter()
    app = build(counter, sync)

    def scenario(s):
        s.client(*[Request("GET", "/", chunks=[], chunk_pause=0, read_pause=0, disconnect=NEVER)
                   for _ in range(count)], pauses=(0.0,))

    target = Target("bench:app", "bench:scenario", app, scenario, strategy="fifo")
    target.check()
    # What `asgisim run` does once before it forks its first seed: the imports each run
    # would repeat, a collection and gc.freeze(), so that a run's start collection does
    # not traverse every object the imports (and the stock side) made.
    pins.prepare_parent()
    result = target.run_seed(0)  # warm-up
    assert result["failure"] == 0, result["describe"]
    start = time.process_time()  # nondeterminism-ok: benchmark timing outside any run
    result = target.run_seed(1)
    elapsed = time.process_time() - start  # nondeterminism-ok: benchmark timing
    assert result["failure"] == 0, result["describe"]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sync", action="store_true", help="a `def` endpoint on anyio's worker threads")
    args = parser.parse_args()
    stock = min(stock_seconds(args.count, args.sync) for _ in range(args.runs))
    bridge = min(bridge_seconds(args.count, args.sync) for _ in range(args.runs))
    print(f"{'sync' if args.sync else 'async'} requests={args.count} "
          f"stock_us_per_request={stock / args.count * 1e6:.1f} "
          f"bridge_us_per_request={bridge / args.count * 1e6:.1f} ratio={bridge / stock:.3f}")


if __name__ == "__main__":
    main()
