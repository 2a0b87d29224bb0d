"""Apps that misbehave outside what asgisim checks, for the sweep's robustness tests.

``crashing``: on about one seed in three the endpoint segfaults in native code
(ctypes reads address 0) or aborts; which seeds is decided by ``random``, which
asgisim draws from the run's choice stream, so it is the same on every run.
``endless``: the endpoint spins in pure Python without ever awaiting; a run
never ends, so only abandoning it (a second signal, or the grace period) stops it.
"""

import ctypes
import os
import random

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgisim import NEVER, Request


async def crash_sometimes(request):
    fate = random.randrange(6)
    if fate == 0:
        ctypes.string_at(0)  # SIGSEGV
    if fate == 1:
        os.abort()  # SIGABRT
    return PlainTextResponse("fine")


async def spin(request):
    while True:
        pass


crashing = Starlette(routes=[Route("/", crash_sometimes)])
endless = Starlette(routes=[Route("/", spin)])


def scenario(s):
    s.client(Request("GET", "/", disconnect=NEVER))
