"""The app the fuzz target for real apps fuzzes in CI, and its canary.

A small Starlette service: an upload that echoes its size, a streamed listing, a
report written by a background task, behind a pure ASGI middleware of a common kind
that buffers the request body before the app sees it (as a body-logging or a
signature-checking middleware does) and turns slow uploads away with a 408.

``app`` is correct. ``canary_app`` has one bug planted on purpose, for
``fuzz_python_app_canary`` to find (scripts/fuzz.sh fails when it does not): after its
408 the guard forgets to ``return``, so the endpoint answers too, a second
``http.response.start`` that asgisim reports as ``start-once`` in ``SlowUploadGuard``.
It takes an upload in at least four messages that lasts 30 ms of virtual time: the
fuzzer must find the chunking and the pauses (docs/fuzzing.md).

    ASGISIM_FUZZ_APP=fuzz_app:canary_app ASGISIM_FUZZ_SCENARIO=fuzz_app:scenario \\
        build/fuzz/fuzz/fuzz_python_app -max_total_time=60
    python3 -m asgisim run --app fuzz_app:app --scenario fuzz_app:scenario --seeds 200
"""

import asyncio

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from asgisim import Request

SLOW_UPLOAD_MESSAGES = 4
SLOW_UPLOAD_SECONDS = 0.030


class SlowUploadGuard:
    """Reads the whole body first, then replays it to the app; a body that came in at
    least SLOW_UPLOAD_MESSAGES messages over SLOW_UPLOAD_SECONDS gets a 408 instead.
    A client that leaves before its body ends is let go (the app is not called)."""

    def __init__(self, app, planted_bug=False):
        self.app = app
        self.planted_bug = planted_bug

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        messages = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            messages.append(message)
            if not message.get("more_body", False):
                break
        if len(messages) >= SLOW_UPLOAD_MESSAGES and loop.time() - started >= SLOW_UPLOAD_SECONDS:
            await PlainTextResponse("request body too slow", status_code=408)(scope, receive, send)
            if not self.planted_bug:
                return
            # The planted bug: no return, the app answers as well.

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def upload(request):
    body = await request.body()
    return JSONResponse({"received": len(body)})


async def listing(request):
    async def lines():
        for i in range(3):
            await asyncio.sleep(0.001)
            yield f"item {i}\n"
    return StreamingResponse(lines(), media_type="text/plain")


async def write_report(size):
    await asyncio.sleep(0.05)  # virtual seconds


async def report(request):
    body = await request.body()
    return PlainTextResponse("queued", background=BackgroundTask(write_report, len(body)))


routes = [Route("/upload", upload, methods=["POST"]), Route("/items", listing),
          Route("/report", report, methods=["POST"])]
app = Starlette(routes=routes, middleware=[Middleware(SlowUploadGuard)])
canary_app = Starlette(routes=routes, middleware=[Middleware(SlowUploadGuard, planted_bug=True)])

_REQUESTS = (("POST", "/upload"), ("GET", "/items"), ("POST", "/report"))


def scenario(s):
    """One to three clients, each with one or two requests drawn from the routes; bodies
    of a chosen size (chunking, pauses and disconnects are chosen per request)."""
    for _ in range(1 + s.choose("clients", 3)):
        requests = []
        for _ in range(1 + s.choose("requests", 2)):
            method, path = _REQUESTS[s.choose("route", len(_REQUESTS))]
            body = b"x" * (16 * s.choose("body_size", 64)) if method == "POST" else b""
            requests.append(Request(method, path, body=body))
        s.client(*requests)
