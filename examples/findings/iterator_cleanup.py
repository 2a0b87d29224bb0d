"""A StreamingResponse whose client leaves mid-stream does not close its body iterator: the
iterator's ``finally`` (releasing whatever it holds) runs only when the garbage collector
frees a reference cycle, or when the event loop shuts down (every Starlette release read,
0.20.4 to 1.3.1; asgisim's invariant iterator-closed).

The endpoint streams rows from a "cursor" held by an async generator whose ``finally``
releases it. The client reads one row and leaves while the server is still sending: the
disconnect listener cancels the response, the generator is left at its ``yield``, and the
``CancelledError`` that left it is kept in a reference cycle by the task group. Nothing calls
``aclose()`` on the iterator, so the cursor stays taken after the request has ended.

    python3 iterator_cleanup.py                      # the installed Starlette
    python3 iterator_cleanup.py --starlette-path DIR # DIR/starlette first (a source tree)

Prints when the ``finally`` ran; exits 1 when it had not run by the time the app call
returned, 0 when it had. Known upstream: Kludex/starlette PR #3491 defers the explicit
closing of a StreamingResponse's async generator to a separate change.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from typing import Any, Dict, List, Optional

timeline: List[str] = []


def build_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def rows() -> Any:
        timeline.append("cursor taken")
        try:
            for index in range(100):
                yield f"row {index}\n".encode()
        finally:
            timeline.append("cursor released (the iterator's finally)")

    async def endpoint(request: Any) -> Any:
        return StreamingResponse(rows(), media_type="text/plain")

    return Starlette(routes=[Route("/", endpoint)])


async def serve_one_get(app: Any) -> None:
    """One GET whose client reads the first body chunk and leaves while the server is still
    writing (a slow socket: every body write takes a moment, as uvicorn's drain does)."""
    gone = asyncio.Event()
    request_given = False
    body_chunks = 0

    async def receive() -> Dict[str, Any]:
        nonlocal request_given
        if not request_given:
            request_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Dict[str, Any]) -> None:
        nonlocal body_chunks
        if message["type"] == "http.response.body":
            body_chunks += 1
            if body_chunks == 1:
                timeline.append("client read the first row and left")
                gone.set()
            await asyncio.sleep(0.01)  # writing to the socket

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80), "state": {}}
    try:
        await app(scope, receive, send)
        timeline.append("app call returned")
    except Exception as exc:  # what uvicorn's run_asgi catches and logs
        timeline.append(f"app call raised {type(exc).__name__}")
    for _ in range(3):  # the loop goes on serving other requests
        await asyncio.sleep(0)
    timeline.append("three loop passes later")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starlette-path", help="a directory holding a starlette/ package, imported first")
    parser.add_argument("--anyio-path", help="a directory holding an anyio/ package, imported first")
    args = parser.parse_args(argv)
    for path in (args.anyio_path, args.starlette_path):
        if path:
            sys.path.insert(0, path)
    import starlette

    gc.collect()
    gc.disable()  # as between two collections of a busy server: when they come is up to allocation counts
    try:
        asyncio.run(serve_one_get(build_app()))  # asyncio.run ends with shutdown_asyncgens()
    finally:
        gc.enable()
    print(f"Starlette {starlette.__version__}")
    for entry in timeline:
        print(f"  {entry}")
    released = timeline.index("cursor released (the iterator's finally)") \
        if "cursor released (the iterator's finally)" in timeline else len(timeline)
    returned = next(i for i, entry in enumerate(timeline) if entry.startswith("app call"))
    if released > returned:
        print("BUG: the iterator's finally did not run by the end of the request: what it holds stays "
              "taken until the garbage collector or the loop's shutdown closes it")
        return 1
    print("ok: the iterator's finally ran within the request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
