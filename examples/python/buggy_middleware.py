"""Pure-ASGI middleware with protocol bugs, blamed by class name.

``AppendFooter`` appends bytes to every body but keeps the endpoint's Content-Length
(``content-length``); ``DoubleEnd`` sends one more body message after the response
ended (``body-after-start``). ``good_app`` is the same stack without them.

    python3 -m asgisim run --app buggy_middleware:footer_app --scenario buggy_middleware:scenario
"""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgisim import NEVER, Request


class AppendFooter:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with_footer(message):
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                message = {**message, "body": message.get("body", b"") + b"\n-- served by asgisim"}
            await send(message)
        await self.app(scope, receive, send_with_footer)


class DoubleEnd:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def hello(request):
    return PlainTextResponse("hello")


routes = [Route("/", hello)]
footer_app = Starlette(routes=routes, middleware=[Middleware(AppendFooter)])
double_end_app = Starlette(routes=routes, middleware=[Middleware(DoubleEnd)])
good_app = Starlette(routes=routes)


def scenario(s):
    s.client(Request("GET", "/", disconnect=NEVER))
