"""Builds a case's stack from the real Starlette on sys.path, with recording hooks.

The endpoint is ``starlette.routing.request_response(func)`` (what ``Route`` wraps an
endpoint in; no Router and no ``Starlette`` application, so no implicit
ServerErrorMiddleware or ExceptionMiddleware). Middleware index 0 is the outermost.
Every hook records through the case's Recorder; nothing here yields to the loop except
where CASE_FORMAT.md says so (``anyio.sleep(0)`` pauses and body reads).
"""

from __future__ import annotations

from typing import Any, Callable, Dict

import anyio

from asgi_server import Recorder, exception_name


class AppError(Exception):
    """The exception every ``raises`` option raises."""


def _import_exception_middleware() -> Any:
    try:
        from starlette.middleware.exceptions import ExceptionMiddleware  # 0.21+
    except ImportError:  # 0.20.x and older
        from starlette.exceptions import ExceptionMiddleware  # type: ignore[no-redef]
    return ExceptionMiddleware


def _base_http(app: Any, index: int, reads_body: bool, record: Recorder) -> Any:
    from starlette.middleware.base import BaseHTTPMiddleware

    async def dispatch(request: Any, call_next: Callable[..., Any]) -> Any:
        record("dispatch_started", mw=index)
        try:
            if reads_body:
                body = await request.body()
                record("dispatch_body_read", mw=index, bytes=len(body))
            response = await call_next(request)
        except BaseException as exc:
            record("dispatch_raised", mw=index, exception=exception_name(exc))
            raise
        record("call_next_returned", mw=index, status=response.status_code)
        return response

    return BaseHTTPMiddleware(app, dispatch=dispatch)


class _RecordingContext:
    """An async context manager whose exit awaits one checkpoint."""

    def __init__(self, index: int, record: Recorder) -> None:
        self.index = index
        self.record = record

    async def __aenter__(self) -> None:
        self.record("context_entered", mw=self.index)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.record("context_exit_started", mw=self.index, exception=exception_name(exc))
        try:
            await anyio.sleep(0)
        except BaseException as cancelled:
            self.record("context_exit_cancelled", mw=self.index,
                        exception=exception_name(cancelled))
            raise
        self.record("context_exited", mw=self.index)
        return False


class _PureAsgiContextMiddleware:
    def __init__(self, app: Any, index: int, record: Recorder) -> None:
        self.app = app
        self.index = index
        self.record = record

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        async with _RecordingContext(self.index, self.record):
            await self.app(scope, receive, send)


def _background(spec: Dict[str, Any], raises: bool, record: Recorder) -> Any:
    from starlette.background import BackgroundTask

    if spec["kind"] == "sync":
        def work_in_thread() -> None:
            record("background_started")
            if raises:
                record("background_raised", exception="AppError")
                raise AppError("in_background")
            record("background_finished")
        return BackgroundTask(work_in_thread)

    async def work() -> None:
        record("background_started")
        try:
            for _ in range(spec["pauses"]):
                await anyio.sleep(0)
        except BaseException as exc:
            record("background_cancelled", exception=exception_name(exc))
            raise
        if raises:
            record("background_raised", exception="AppError")
            raise AppError("in_background")
        record("background_finished")
    return BackgroundTask(work)


def _closed_by() -> str:
    """Who runs an async generator's finally: the task iterating it ("inline"), the task
    asyncio's finalizer hook created for aclose() ("finalizer"), or shutdown_asyncgens
    ("shutdown")."""
    import asyncio
    task = asyncio.current_task()
    if task is None or type(task.get_coro()).__name__ != "async_generator_athrow":
        return "inline"
    return "shutdown" if getattr(asyncio.get_running_loop(), "_asyncgens_shutdown_called", False) \
        else "finalizer"


def _endpoint(spec: Dict[str, Any], record: Recorder) -> Callable[..., Any]:
    from starlette.responses import PlainTextResponse, StreamingResponse

    chunks, pause, raises = spec["chunks"], spec["chunk_pause"], spec["raises"]
    cleanup = spec.get("cleanup", False)

    def make_response() -> Any:
        background = None
        if spec["background"] is not None:
            background = _background(spec["background"], raises == "in_background", record)
        if spec["response"] == "plain":
            return PlainTextResponse("hello", background=background)
        if spec["kind"] == "sync":
            def sync_body() -> Any:
                for index in range(chunks):
                    record("stream_chunk", index=index)
                    yield f"chunk-{index}".encode("ascii")
                if raises == "in_stream":
                    raise AppError("in_stream")
            content: Any = sync_body()
        else:
            async def async_body() -> Any:
                how = "exhausted"
                try:
                    for index in range(chunks):
                        for _ in range(pause):
                            await anyio.sleep(0)
                        record("stream_chunk", index=index)
                        yield f"chunk-{index}".encode("ascii")
                    if raises == "in_stream":
                        raise AppError("in_stream")
                except BaseException as exc:  # GeneratorExit when closed at a yield
                    how = exception_name(exc)
                    raise
                finally:
                    if cleanup:
                        record("stream_closed", how=how, by=_closed_by())
            content = async_body()
        return StreamingResponse(content, media_type="text/plain", background=background)

    if spec["kind"] == "sync":
        def sync_endpoint(request: Any) -> Any:
            record("endpoint_started")
            if raises == "before_start":
                record("endpoint_raised", exception="AppError")
                raise AppError("before_start")
            response = make_response()
            record("endpoint_returned")
            return response
        return sync_endpoint

    async def async_endpoint(request: Any) -> Any:
        record("endpoint_started")
        try:
            if spec["reads_body"] == "body":
                body = await request.body()
                record("endpoint_body_read", bytes=len(body))
            elif spec["reads_body"] == "stream":
                size = 0
                async for part in request.stream():
                    size += len(part)
                record("endpoint_body_read", bytes=size)
            if raises == "before_start":
                raise AppError("before_start")
        except BaseException as exc:
            record("endpoint_raised", exception=exception_name(exc))
            raise
        response = make_response()
        record("endpoint_returned")
        return response
    return async_endpoint


def build_app(case: Dict[str, Any], record: Recorder) -> Any:
    from starlette.middleware.errors import ServerErrorMiddleware
    from starlette.routing import request_response

    app = request_response(_endpoint(case["stack"]["endpoint"], record))
    middleware = case["stack"]["middleware"]
    for index in reversed(range(len(middleware))):
        kind = middleware[index]["kind"]
        if kind == "base_http_passthrough":
            app = _base_http(app, index, reads_body=False, record=record)
        elif kind == "base_http_reads_body":
            app = _base_http(app, index, reads_body=True, record=record)
        elif kind == "pure_asgi_cm":
            app = _PureAsgiContextMiddleware(app, index, record)
        elif kind == "server_error":
            app = ServerErrorMiddleware(app)
        elif kind == "exception":
            app = _import_exception_middleware()(app)
        else:  # pragma: no cover - validate_case rejects it first
            raise ValueError(kind)
    return app
