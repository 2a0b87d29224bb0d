"""Sync endpoints on anyio's thread pool, run on real threads under asgisim's baton.

``app`` has one ``def`` endpoint: Starlette runs it through ``run_in_threadpool``, so
anyio's default limiter (40 tokens) bounds the calls in flight and its worker threads
are reused once idle. ``stats`` counts, per run (each seed runs in a fresh process),
the distinct threads the endpoint ran on and the most calls in flight at once.

  python3 -m asgisim run --app thread_pool:app --scenario thread_pool:concurrent --seeds 20
"""

import threading
import time

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgisim import NEVER, Request


class Stats:
    lock = threading.Lock()  # made at import: asgisim's patched Lock, a kernel lock in a run
    in_flight = 0
    in_flight_max = 0
    threads = set()


def work(request):
    with Stats.lock:
        Stats.in_flight += 1
        Stats.in_flight_max = max(Stats.in_flight_max, Stats.in_flight)
        Stats.threads.add(threading.get_ident())
    time.sleep(0.05)  # virtual time: the run does not wait for it
    with Stats.lock:
        Stats.in_flight -= 1
    return PlainTextResponse("done")


app = Starlette(routes=[Route("/work", work)])


def stats():
    return {"threads": len(Stats.threads), "in_flight_max": Stats.in_flight_max}


def _request():
    return Request("GET", "/work", read_pause=0, disconnect=NEVER)


def concurrent(s):
    """200 clients at once, one request each: the limiter's 40 tokens are all taken."""
    for _ in range(200):
        s.client(_request(), pauses=(0.0, 0.001))
    s.threads_bound = 40
    s.check("threads-bounded")


def sequential(s):
    """200 requests one after another on one connection: one worker thread serves them all."""
    s.client(*[_request() for _ in range(200)])
    s.threads_bound = 1
    s.check("threads-bounded")


def concurrent_bound_39(s):
    """As ``concurrent``, checked against a bound of 39 threads: the 40th is a violation."""
    concurrent(s)
    s.threads_bound = 39


def concurrent_memory(s):
    """As ``concurrent``, each thread retaining 100 MB (a model loaded per thread) in a
    3 GB budget: the pool's 40 threads need 4 GB (memory-budget)."""
    concurrent(s)
    s.thread_memory = 100 * 1024 * 1024
    s.memory_budget = 3 * 1024 * 1024 * 1024
    s.check("memory-budget")


# ---- asyncio's own ways to a thread: asyncio.to_thread, run_in_executor, ThreadPoolExecutor

_executor = None
_answers = []


def answers():
    return {"answers": _answers}


def _square(n):
    time.sleep(0.01)
    return n * n


async def via_asyncio(request):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pool")
    loop = asyncio.get_running_loop()
    a = await asyncio.to_thread(_square, 2)
    b = await loop.run_in_executor(None, _square, 3)
    c = await asyncio.wrap_future(_executor.submit(_square, 4))
    _answers.append([a, b, c])
    return PlainTextResponse(f"{a} {b} {c}")


asyncio_app = Starlette(routes=[Route("/work", via_asyncio)])


def asyncio_clients(s):
    """A few concurrent clients of ``asyncio_app``."""
    for _ in range(5):
        s.client(_request(), pauses=(0.0, 0.001))
