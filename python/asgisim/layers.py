"""Observation hooks: every layer boundary of the app, and Starlette's background tasks.

Each layer of the app's middleware stack (found through the ``.app`` attribute that
Starlette's middleware and most pure-ASGI middleware keep, down to the Router and
each Route's endpoint) is wrapped in a ``Boundary``: every message crossing it is
reported to the run's protocol validator as ``outer->inner``, so a violation blames
the user's class by name. ``BackgroundTask`` start and end are reported too
(``background-complete``). Hooks are installed in the forked child that runs a seed,
and look up the running run, so outside a run they only pass through.

Documented per framework version: checked on Starlette 0.26.1 (Debian 12) and
FastAPI 0.92.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any, Callable, Optional

# The request the current asyncio Task serves (set when the app call's Task is made;
# tasks the app spawns inherit it through their copied context).
current_request: contextvars.ContextVar[int] = contextvars.ContextVar("asgisim_request", default=0)


class RunSlot:
    """Where hooks find the running run (None outside a run)."""
    run: Any = None


def layer_name(layer: Any) -> str:
    name = getattr(layer, "__name__", None)
    if isinstance(name, str) and not isinstance(layer, type) and callable(layer) and \
            type(layer).__name__ in ("function", "method"):
        return name
    return type(layer).__name__


class Boundary:
    """One ASGI boundary, ``outer->inner``, observed in both directions."""

    def __init__(self, inner: Callable, outer_name: str, inner_name: str) -> None:
        self.inner = inner
        self.outer_name = outer_name
        self.inner_name = inner_name
        self.boundary = f"{outer_name}->{inner_name}"
        self.calls = 0

    def __getattr__(self, name: str) -> Any:  # a wrapped layer keeps its attributes
        return getattr(self.__dict__["inner"], name)

    async def __call__(self, scope, receive, send):
        run = RunSlot.run
        if run is None or scope.get("type") != "http":
            return await self.inner(scope, receive, send)
        self.calls += 1
        outer, inner = self.outer_name, self.inner_name
        # The call's observer (native): each message below is one crossing.
        observer = run.boundary_call(outer, inner, current_request.get(), self.calls,
                                     f"http {scope.get('method', 'GET')}")
        observe_received, observe_sent = observer.received, observer.sent

        async def observed_receive():
            message = await receive()
            problem = observe_received(message)
            if problem:
                raise RuntimeError(f"{outer} passed a malformed ASGI message to {inner}: {problem}")
            return message

        async def observed_send(message):
            problem = observe_sent(message)
            if problem:
                raise RuntimeError(f"{inner} sent a malformed ASGI message: {problem}")
            await send(message)

        return await self.inner(scope, observed_receive, observed_send)


def _is_router(layer: Any) -> bool:
    return type(layer).__name__ == "Router" and hasattr(layer, "routes")


def _wrap_routes(router: Any) -> None:
    for route in getattr(router, "routes", []):
        endpoint = getattr(route, "app", None)
        if endpoint is None or isinstance(endpoint, Boundary):
            continue
        name = getattr(route, "name", None) or layer_name(endpoint)
        if type(route).__name__ == "Mount":
            wrap_layers(endpoint, outer_name=type(router).__name__, top=False)
            continue
        route.app = Boundary(endpoint, type(router).__name__, name)


def wrap_layers(app: Any, outer_name: str = "server", top: bool = True) -> Any:
    """Returns ``app`` wrapped for the server, with every inner boundary wrapped in place."""
    node = app
    stack_builder = getattr(app, "build_middleware_stack", None)
    if stack_builder is not None and hasattr(app, "middleware_stack"):
        if app.middleware_stack is None:
            app.middleware_stack = stack_builder()
        node = app.middleware_stack
        app.middleware_stack = Boundary(node, outer_name, layer_name(node))
        outer = app
    else:
        outer = Boundary(app, outer_name, layer_name(app)) if top else app
    first = outer
    while not _is_router(node):
        inner = getattr(node, "app", None)
        if inner is None or not callable(inner) or isinstance(inner, Boundary):
            break
        node.app = Boundary(inner, layer_name(node), layer_name(inner))
        node = inner
    if _is_router(node):
        _wrap_routes(node)
    return first


def install_background_hooks() -> None:
    """BackgroundTask: scheduled when made, started/finished/cancelled when run."""
    try:
        from starlette.background import BackgroundTask
    except ImportError:
        return
    if getattr(BackgroundTask, "_asgisim_hooked", False):
        return
    original_init, original_call = BackgroundTask.__init__, BackgroundTask.__call__

    def __init__(self, func, *args, **kwargs):
        original_init(self, func, *args, **kwargs)
        self._asgisim_request = current_request.get()
        self._asgisim_name = getattr(func, "__qualname__", None) or layer_name(func)
        run = RunSlot.run
        if run is not None:
            run.observe("background_scheduled", "background_task", self._asgisim_request, "BackgroundTask", self._asgisim_name)

    async def __call__(self):
        run = RunSlot.run
        request: Optional[int] = getattr(self, "_asgisim_request", None)
        if run is None or request is None:
            return await original_call(self)
        name = self._asgisim_name
        run.observe("background_started", "background_task", request, "BackgroundTask", name)
        try:
            await original_call(self)
        except asyncio.CancelledError:
            run.observe("background_cancelled", "background_task", request, "BackgroundTask", name)
            raise
        except Exception as error:
            run.observe("error_raised", "background_task", request, "BackgroundTask", f"{name}: {type(error).__name__}: {error}")
            raise
        run.observe("background_finished", "background_task", request, "BackgroundTask", name)

    BackgroundTask.__init__ = __init__
    BackgroundTask.__call__ = __call__
    BackgroundTask._asgisim_hooked = True
