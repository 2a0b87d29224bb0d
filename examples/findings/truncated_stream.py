"""A StreamingResponse that raises mid-body behind BaseHTTPMiddleware reaches the client as
a complete response (Starlette 0.46.0 and later; asgisim's catalogue entry truncated-stream).

The endpoint streams three rows from a "cursor" that then fails. Behind a pass-through
BaseHTTPMiddleware, Starlette 0.46.0 and later (PR #2812) finish the response (a final
``http.response.body`` with ``more_body: False``) and only then raise the error: an HTTP/1.1
server ends the chunked body properly and the client takes the truncated body for the whole
one. Up to 0.45.3 the error ends the response before its final message, so the server cuts the
connection and the client knows the body is incomplete.

    python3 truncated_stream.py                      # the installed Starlette
    python3 truncated_stream.py --starlette-path DIR # DIR/starlette first (a source tree)

Prints what the server received and a verdict; exits 1 when the bug shows, 0 when not. It
drives the app with a minimal ASGI server of its own (one GET, a client that stays), so it
needs nothing but Starlette and anyio.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, Dict, List, Optional, Tuple


def build_app() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    class Passthrough(BaseHTTPMiddleware):
        async def dispatch(self, request: Any, call_next: Any) -> Any:
            return await call_next(request)

    async def rows() -> Any:
        for index in range(3):
            yield f"row {index}\n".encode()
        raise RuntimeError("the cursor failed after 3 rows")

    async def endpoint(request: Any) -> Any:
        return StreamingResponse(rows(), media_type="text/plain")

    return Starlette(routes=[Route("/", endpoint)], middleware=[Middleware(Passthrough)])


async def serve_one_get(app: Any) -> Tuple[List[Dict[str, Any]], Optional[BaseException]]:
    """What an ASGI server does for one GET whose client reads to the end: the messages the
    app sent, and the exception its call raised (None if it returned)."""
    sent: List[Dict[str, Any]] = []
    request_given = False
    client_stays = asyncio.Event()  # never set: the client does not leave

    async def receive() -> Dict[str, Any]:
        nonlocal request_given
        if not request_given:
            request_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await client_stays.wait()
        return {"type": "http.disconnect"}

    async def send(message: Dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80), "state": {}}
    try:
        await app(scope, receive, send)
    except Exception as exc:  # what uvicorn's run_asgi catches and logs
        return sent, exc
    return sent, None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starlette-path", help="a directory holding a starlette/ package, imported first")
    parser.add_argument("--anyio-path", help="a directory holding an anyio/ package, imported first")
    args = parser.parse_args(argv)
    for path in (args.anyio_path, args.starlette_path):
        if path:
            sys.path.insert(0, path)
    import starlette

    sent, error = asyncio.run(serve_one_get(build_app()))
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    finished = any(message["type"] == "http.response.body" and not message.get("more_body", False)
                   for message in sent)
    print(f"Starlette {starlette.__version__}")
    for message in sent:
        shown = {key: value for key, value in message.items() if key != "headers"}
        print(f"  app sent     {shown}")
    print(f"  app raised   {type(error).__name__}: {error}" if error else "  app returned")
    if error is not None and finished:
        print(f"BUG: the response was finished (more_body false, {len(body)} body bytes) before the app "
              "raised: the client gets a complete 200 with a truncated body")
        return 1
    print("ok: the error ended the response before its final message (the server cuts the connection)"
          if error is not None else "ok: the app did not fail")
    return 0


if __name__ == "__main__":
    sys.exit(main())
