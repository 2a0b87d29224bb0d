"""A uvicorn-like server side for one request, over plain ASGI callables (no sockets).

Modelled line by line on uvicorn's ``RequestResponseCycle`` (h11_impl.py, 0.17 to
0.32; the raising send of 0.28.0 is an option) with a scripted client:

* ``receive``: while the request body lasts, every call returns the client's next
  chunk as one ``http.request`` without yielding to the loop (the chunk is already
  buffered, as when uvicorn's ``message_event`` is set). The client sends chunk i+1
  just when the app asks for it, so uvicorn's merging of buffered bytes never joins two
  chunks. After the final chunk, ``receive`` waits (an ``asyncio.Event``, as uvicorn)
  until the response is complete or the client has disconnected; from then on it
  returns ``http.disconnect`` at once, every time.
* ``send`` never yields to the loop (uvicorn awaits only when the transport is paused,
  which a scripted client never causes). After a disconnect it drops the message or,
  with ``send_after_disconnect = raise``, raises ``ClientDisconnected`` (an OSError,
  as uvicorn 0.28.0) whether or not the response had completed. Otherwise: a message
  out of order, or any message after the final body, raises RuntimeError.
* ``run_asgi``: an exception before ``http.response.start`` gives a 500 (sent through
  ``send``, so dropped or raising after a disconnect); after the start, the server
  closes the connection. Returning without a start gives a 500 if the client is still
  there; returning with a started, incomplete response closes the connection.

Disconnects are instantaneous and happen inside the call that triggers them:
``after_send:K`` right after the client received its K-th message (the send that
delivered it has recorded it and then the disconnect, before returning);
``mid_body:K`` inside the receive that would have returned chunk K (0-based), which
returns ``http.disconnect`` instead (only while the response is not complete: after
that, uvicorn answers ``http.disconnect`` without reading); ``before_request`` before the app is called.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, List, Optional

from case_format import parse_disconnect


class ClientDisconnected(OSError):
    """What uvicorn 0.28.0's send raised after a disconnect (uvicorn.protocols.utils)."""


class Recorder:
    """The ordered event log of one case. Stops recording at the time box."""

    def __init__(self) -> None:
        self.events: List[Dict[str, Any]] = []
        self.active = True

    def __call__(self, ev: str, **fields: Any) -> None:
        if self.active:
            self.events.append({"ev": ev, **fields})

    def stop(self, reason: str) -> None:
        if self.active:
            self.events.append({"ev": "app_hung", "reason": reason})
            self.active = False


def exception_name(exc: Optional[BaseException]) -> Optional[str]:
    """"AppError"; anyio 3's ExceptionGroup as "ExceptionGroup[A,B]" in its own order."""
    if exc is None:
        return None
    members = getattr(exc, "exceptions", None)
    name = type(exc).__name__
    if isinstance(members, (list, tuple)) and "ExceptionGroup" in name:
        return f"{name}[{','.join(exception_name(member) for member in members)}]"
    return name


def _text(data: Any) -> str:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data).decode("latin-1")
    return str(data)


def describe_sent(message: Dict[str, Any]) -> Dict[str, Any]:
    kind = message.get("type")
    if kind == "http.response.start":
        return {"type": kind, "status": int(message.get("status", 0)),
                "headers": [[_text(name), _text(value)]
                            for name, value in message.get("headers", [])]}
    if kind == "http.response.body":
        return {"type": kind, "body": _text(message.get("body", b"")),
                "more_body": bool(message.get("more_body", False))}
    return {"type": str(kind)}


def describe_received(message: Dict[str, Any]) -> Dict[str, Any]:
    if message["type"] == "http.request":
        return {"type": "http.request", "body_len": len(message["body"]),
                "more_body": message["more_body"]}
    return {"type": message["type"]}


def make_scope(case: Dict[str, Any]) -> Dict[str, Any]:
    body_size = sum(case["client"]["body_chunks"])
    headers = [(b"host", b"testserver")]
    if case["client"]["body_chunks"]:
        headers.append((b"content-length", str(body_size).encode("ascii")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": case["server"]["spec_version"]},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


class RequestResponseCycle:
    def __init__(self, case: Dict[str, Any], record: Recorder) -> None:
        self.record = record
        self.scope = make_scope(case)
        self.chunks: List[int] = list(case["client"]["body_chunks"])
        self.disconnect_point: str = case["client"]["disconnect"]
        self.disconnect_kind, self.disconnect_count = parse_disconnect(self.disconnect_point)
        self.raise_after_disconnect = case["server"]["send_after_disconnect"] == "raise"

        self.disconnected = False
        self.chunks_given = 0        # request-body chunks handed to the app so far
        self.body_done = False       # the app has received more_body=False
        self.messages_delivered = 0  # messages the client received, any origin
        self.response_started = False
        self.response_complete = False
        self.message_event = asyncio.Event()

    # ---- the client ---------------------------------------------------------------
    def _client_disconnects(self) -> None:
        self.disconnected = True
        self.record("client_disconnected", point=self.disconnect_point)
        self.message_event.set()

    # ---- ASGI interface -----------------------------------------------------------
    async def receive(self) -> Dict[str, Any]:
        if (self.disconnect_kind == "mid_body" and not self.disconnected
                and not self.response_complete and not self.body_done
                and self.chunks_given == self.disconnect_count):
            self._client_disconnects()
        if not self.disconnected and not self.response_complete and self.body_done:
            await self.message_event.wait()
            self.message_event.clear()
        if self.disconnected or self.response_complete:
            message: Dict[str, Any] = {"type": "http.disconnect"}
        else:
            index = self.chunks_given
            size = self.chunks[index] if self.chunks else 0
            more_body = index + 1 < len(self.chunks)
            message = {"type": "http.request", "body": b"x" * size, "more_body": more_body}
            self.chunks_given += 1
            self.body_done = not more_body
        self.record("received", message=describe_received(message))
        return message

    async def send(self, message: Dict[str, Any], origin: str = "app") -> None:
        described = describe_sent(message)
        kind = message.get("type")
        if self.disconnected:
            if self.raise_after_disconnect:
                self.record("sent", message=described, origin=origin, result="raised",
                            exception="ClientDisconnected")
                raise ClientDisconnected()
            self.record("sent", message=described, origin=origin, result="dropped")
            return
        error: Optional[str] = None
        if not self.response_started:
            if kind != "http.response.start":
                error = f"Expected ASGI message 'http.response.start', but got '{kind}'."
        elif not self.response_complete:
            if kind != "http.response.body":
                error = f"Expected ASGI message 'http.response.body', but got '{kind}'."
        else:
            error = f"Unexpected ASGI message '{kind}' sent, after response already completed."
        if error is not None:
            self.record("sent", message=described, origin=origin, result="raised",
                        exception="RuntimeError")
            raise RuntimeError(error)
        if not self.response_started:
            self.response_started = True
        elif not message.get("more_body", False):
            self.response_complete = True
            self.message_event.set()
        self.record("sent", message=described, origin=origin, result="delivered")
        self.messages_delivered += 1
        if (self.disconnect_kind == "after_send"
                and self.messages_delivered == self.disconnect_count):
            self._client_disconnects()

    async def _send_from_server(self, message: Dict[str, Any]) -> None:
        await self.send(message, origin="server")

    async def send_500_response(self) -> None:
        await self._send_from_server({
            "type": "http.response.start", "status": 500,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                        (b"connection", b"close")]})
        await self._send_from_server({"type": "http.response.body",
                                      "body": b"Internal Server Error"})

    def _close(self, reason: str) -> None:
        self.record("connection_closed", reason=reason)

    async def run_asgi(self, app: Callable[..., Any]) -> None:
        if self.disconnect_kind == "before_request":
            self._client_disconnects()
        self.record("request_started")
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:  # noqa: B902 - uvicorn catches everything here too
            if isinstance(exc, asyncio.CancelledError) and not self.record.active:
                raise  # the time box, not the app
            self.record("app_raised", exception=exception_name(exc))
            try:
                if not self.response_started:
                    await self.send_500_response()
                else:
                    self._close("exception_after_start")
            except ClientDisconnected:
                pass  # uvicorn 0.28.0 let this escape its task; it is recorded as sent/raised
        else:
            self.record("app_returned")
            if not self.response_started and not self.disconnected:
                await self.send_500_response()
            elif not self.response_complete and not self.disconnected:
                self._close("incomplete_response")
