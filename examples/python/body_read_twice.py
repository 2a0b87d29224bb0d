"""encode/starlette#847: the body read in BaseHTTPMiddleware.dispatch, then again in the endpoint.

On Starlette 0.26.1 the endpoint's ``request.body()`` waits for body bytes that the
middleware already consumed: the request hangs until the client gives up. asgisim
finds it as a deadlock. ``fixed_app`` does the same logging in a pure-ASGI middleware
that replays the body downstream, and passes.

    python3 -m asgisim run --app body_read_twice:app --scenario body_read_twice:scenario
"""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgisim import Request


class BodyLogger(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        body = await request.body()
        request.state.body_bytes = len(body)
        return await call_next(request)


class ReplayingBodyLogger:
    """The same logging as a pure-ASGI middleware: read the body, replay it downstream."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        chunks, more_body = [], True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return await self.app(scope, receive, send)
            chunks.append(message.get("body", b""))
            more_body = message.get("more_body", False)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def echo(request):
    body = await request.body()
    return PlainTextResponse(f"got {len(body)} bytes")


routes = [Route("/", echo, methods=["POST"])]
app = Starlette(routes=routes, middleware=[Middleware(BodyLogger)])
fixed_app = Starlette(routes=routes, middleware=[Middleware(ReplayingBodyLogger)])


def scenario(s):
    s.client(Request("POST", "/", body=b"hello, asgisim " * 8))
