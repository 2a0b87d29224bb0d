"""The catalogue against the real stack: ``python3 -m asgisim catalogue``.

For each catalogue scenario whose buggy or fixed configuration is a Starlette release
installed here, the same app code and the same traffic as the C++ scenario
(scenarios/catalogue/<name>.cpp), written against the real library and run through the
bridge with the same invariants. ``asgisim catalogue --python CMD`` runs this and shows
the result as a column beside the model's: where the model and the real code disagree,
the model is wrong (or the real code is, on another schedule), and the catalogue fails.

A buggy configuration is swept until its first failure (``--buggy-seeds``, default 100),
a fixed one over ``--fixed-seeds`` seeds (default 200), each seed in a fresh fork as in
``run``; one JSON line per configuration run, e.g.::

    {"scenario": "body-read-twice", "config": "buggy", "starlette": "0.26.1",
     "seeds_run": 1, "failed": true, "seed": 0, "failure": "liveness", "invariant": "request-latency",
     "trace_hash": "0x..."}

Configurations whose Starlette is not the installed one are listed as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import forking, threads
from .scenario import PROTOCOL_IDS, Request, Scenario
from .session import Target
from .spec import UsageError


@dataclass(frozen=True)
class Mirror:
    """One configuration of a catalogue scenario, on the real library."""
    scenario: str
    config: str  # "buggy" or "fixed", as the C++ scenario names it
    starlette: str  # the release that configuration models
    make_app: Callable[[], Any]
    traffic: Callable[[Scenario], None]
    invariants: Sequence[str]


# ---- body-read-twice (scenarios/catalogue/body_read_twice.cpp) ----------------------------

def _body_read_twice_app() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    class LoggingDispatch(BaseHTTPMiddleware):
        # body = await request.body(); log(body); return await call_next(request)
        async def dispatch(self, request, call_next):
            body = await request.body()
            response = await call_next(request)
            response.headers["x-logged-bytes"] = str(len(body))
            return response

    async def echo(request):
        return PlainTextResponse(await request.body())

    return Starlette(routes=[Route("/", echo, methods=["POST"])], middleware=[Middleware(LoggingDispatch)])


def _body_read_twice_traffic(s: Scenario) -> None:
    # One or two clients, each one or two POSTs of 1 to 4096 bytes; chunking, pauses and
    # where a client leaves are the client's choice. Latency budget: one second.
    s.latency_budget = 1.0
    for _ in range(1 + s.choose("traffic.clients", 2)):
        s.client(*[Request("POST", "/", body=b"x" * (1 + s.choose("request.body_bytes", 4096)))
                   for _ in range(1 + s.choose("traffic.requests", 2))])


# ---- completion-delayed (scenarios/catalogue/completion_delayed.cpp) ------------------------

def _completion_delayed_app() -> Any:
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    class PassThrough(BaseHTTPMiddleware):
        async def dispatch(self, request, call_next):
            return await call_next(request)

    async def update_stats(seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def hello(request):
        # The work's length is drawn per request, as the C++ endpoint does (random is
        # seeded from the choice stream during a run).
        seconds = random.choice((0.001, 0.01, 0.1, 1.0))  # nondeterminism-ok: seeded per run (pins.py)
        return PlainTextResponse("Hello", background=BackgroundTask(update_stats, seconds))

    return Starlette(routes=[Route("/", hello)], middleware=[Middleware(PassThrough)])


def _completion_delayed_traffic(s: Scenario) -> None:
    # One or two clients, each one to three GETs on one keep-alive connection.
    for _ in range(1 + s.choose("traffic.clients", 2)):
        s.client(*[Request("GET", "/") for _ in range(1 + s.choose("traffic.requests", 3))])


MIRRORS = (
    Mirror("body-read-twice", "buggy", "0.26.1", _body_read_twice_app, _body_read_twice_traffic,
           PROTOCOL_IDS + ("request-latency",)),
    Mirror("completion-delayed", "buggy", "0.26.1", _completion_delayed_app, _completion_delayed_traffic,
           PROTOCOL_IDS + ("response-not-delayed", "background-complete")),
)


def installed_starlette() -> Optional[str]:
    try:
        import starlette
    except ImportError:
        return None
    return starlette.__version__


def sweep_mirror(mirror: Mirror, seeds: int) -> Dict[str, Any]:
    """Seeds from 0: a buggy configuration until its first failure, a fixed one all of them."""
    target = Target(app_spec=f"asgisim.real_catalogue:{mirror.scenario}", scenario_spec=mirror.scenario,
                    app=mirror.make_app(), scenario=mirror.traffic, invariants=tuple(mirror.invariants))
    target.check()
    line: Dict[str, Any] = {"scenario": mirror.scenario, "config": mirror.config,
                            "starlette": mirror.starlette, "seeds_run": 0, "failed": False, "failures": 0}
    for seed in range(seeds):
        result = forking.run_forked(lambda: target.run_seed(seed))
        line["seeds_run"] += 1
        if not result["failure"]:
            continue
        line["failures"] += 1
        if not line["failed"]:
            again = forking.run_forked(lambda: target.run_seed(seed))
            line.update(failed=True, seed=seed, failure=result["failure_name"], invariant=result["invariant"],
                        layer=result["layer"], trace_hash=f"{result['trace_hash']:#018x}",
                        deterministic=again["trace_hash"] == result["trace_hash"])
        if mirror.config == "buggy":
            break
    return line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--buggy-seeds", type=int, default=100, help="at most this many seeds (default 100)")
    parser.add_argument("--fixed-seeds", type=int, default=200, help="this many seeds (default 200)")


def run(args: argparse.Namespace) -> int:
    if args.buggy_seeds < 1 or args.fixed_seeds < 1:
        raise UsageError("--buggy-seeds and --fixed-seeds must be at least 1")
    threads.install()  # before Starlette is imported, as for --app (spec.py)
    version = installed_starlette()
    for mirror in MIRRORS:
        if version != mirror.starlette:
            print(json.dumps({"scenario": mirror.scenario, "config": mirror.config, "starlette": mirror.starlette,
                              "skipped": f"Starlette {version or 'not'} installed"}), flush=True)
            continue
        seeds = args.buggy_seeds if mirror.config == "buggy" else args.fixed_seeds
        print(json.dumps(sweep_mirror(mirror, seeds)), flush=True)
    return 0
