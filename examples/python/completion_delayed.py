"""encode/starlette#1940: a response's completion held back by its background task.

From Starlette 0.23.1 to 0.28 (Debian's 0.26.1 included) a pass-through
BaseHTTPMiddleware forwards a StreamingResponse's body at once but holds the closing
``more_body=False`` message until the downstream app, background task included, has
finished. asgisim reports it as ``response-not-delayed``. ``fixed_app`` has no such
middleware and passes.

    python3 -m asgisim run --app completion_delayed:app --scenario completion_delayed:scenario
"""

import asyncio

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import StreamingResponse
from starlette.routing import Route

from asgisim import Request


class PassThrough(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        return await call_next(request)


async def send_report():
    await asyncio.sleep(2)  # virtual seconds: slow background work


async def numbers(request):
    async def lines():
        for i in range(3):
            yield f"{i}\n"
    return StreamingResponse(lines(), background=BackgroundTask(send_report))


routes = [Route("/", numbers)]
app = Starlette(routes=routes, middleware=[Middleware(PassThrough)])
fixed_app = Starlette(routes=routes)


def scenario(s):
    s.check("response-not-delayed")
    s.client(Request("GET", "/"), Request("GET", "/"))
