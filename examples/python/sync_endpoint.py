"""What the bridge cannot run yet, and what it never runs.

``app`` has a sync (``def``) endpoint: Starlette runs it on a worker thread, and sync
code on threads is the next issue, so asgisim stops with a clear "not yet supported"
error. ``io_app`` opens a real network connection inside a run, which escapes the
simulation and is reported as the endpoint's error.
"""

import asyncio

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgisim import NEVER, Request


def sync_hello(request):
    return PlainTextResponse("hello from a thread")


async def fetch(request):
    await asyncio.open_connection("example.com", 80)
    return PlainTextResponse("unreachable")


app = Starlette(routes=[Route("/", sync_hello)])
io_app = Starlette(routes=[Route("/", fetch)])


def scenario(s):
    s.client(Request("GET", "/", disconnect=NEVER))
