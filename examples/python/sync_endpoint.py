"""Sync code on threads, and what escapes the simulation.

Starlette runs a ``def`` endpoint on anyio's worker threads; under asgisim each is a
real OS thread that runs only while it holds the kernel's baton (asgisim/threads.py),
so ``app`` runs like any other app, and ``sleepy_app``'s ``time.sleep(5)`` takes five
seconds of virtual time, none of wall-clock time. What cannot run inside a simulation
stops the run as escaped (exit 4) with the call and every thread's Python stack:
``socket_app`` opens a real socket in a sync endpoint, ``io_app`` a real connection
from the event loop, and ``wedged_app`` blocks on a lock the patches cannot see (made
with ``_thread.allocate_lock()`` directly, held forever), which the wall-clock watchdog
catches (``--watchdog SECONDS``).
"""

import _thread
import asyncio
import socket
import time

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgisim import NEVER, Request


def sync_hello(request):
    return PlainTextResponse("hello from a thread")


def sleepy(request):
    time.sleep(5)  # virtual: the run does not wait
    return PlainTextResponse("slept")


def connect(request):
    with socket.create_connection(("example.com", 80), timeout=5):
        pass
    return PlainTextResponse("unreachable")


async def fetch(request):
    await asyncio.open_connection("example.com", 80)
    return PlainTextResponse("unreachable")


_held = _thread.allocate_lock()  # a real lock, not asgisim's: invisible to the kernel
_held.acquire()


def wedged(request):
    _held.acquire()  # blocks this OS thread for real
    return PlainTextResponse("unreachable")


app = Starlette(routes=[Route("/", sync_hello)])
sleepy_app = Starlette(routes=[Route("/", sleepy)])
socket_app = Starlette(routes=[Route("/", connect)])
io_app = Starlette(routes=[Route("/", fetch)])
wedged_app = Starlette(routes=[Route("/", wedged)])


def scenario(s):
    s.client(Request("GET", "/", disconnect=NEVER))
