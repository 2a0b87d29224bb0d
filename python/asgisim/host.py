"""The Python half of a run: what PythonScenario::build() asks for, and the app calls.

``Host.begin_run(run)`` makes the run's SimLoop, pins the process, builds the
scenario's plan; the C++ side then starts the loop task, the uvicorn model around the
app and the clients. ``Host.start_app_call(scope, call)`` turns one server call into
an asyncio Task whose receive/send are futures the C++ side completes.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from . import layers, pins, threads
from .loop import SimLoop
from .scenario import Scenario

_unsupported: List[str] = []


class ClientDisconnected(OSError):
    """What the server's send raises once the client has gone (uvicorn 0.28.0's name)."""


def record_unsupported(message: str) -> None:
    """Something the bridge cannot run yet (threads); reported as a usage error."""
    if message not in _unsupported:
        _unsupported.append(message)


def unsupported() -> List[str]:
    return list(_unsupported)


class _ReceiveFuture(asyncio.Future):
    """A receive() the server answers; cancelling it (Task.cancel) stops the server's
    receive at once, so that a message the server has not yet handed over stays with
    it, as when uvicorn's receive coroutine is cancelled in its wait."""

    def __init__(self, call: Any, *, loop: Any) -> None:
        super().__init__(loop=loop)
        self._asgisim_call = call

    def cancel(self, msg: Any = None) -> bool:
        if not super().cancel(msg=msg):
            return False
        self._asgisim_call.cancel_receive(self)
        return True


@dataclass
class Plan:
    loop: SimLoop
    app_name: str
    server: Dict[str, Any]
    clients: List[Dict[str, Any]]
    latency_budget_ns: Optional[int]
    threads_bound: Optional[int] = None
    memory_budget: Optional[int] = None


class Host:
    def __init__(self, app: Any, scenario: Callable[[Scenario], None], reorder_callbacks: bool = False,
                 vary_timer_ties: bool = False) -> None:
        self.raw_app = app
        self.scenario = scenario
        self.reorder_callbacks = reorder_callbacks
        self.vary_timer_ties = vary_timer_ties
        self.app: Any = None
        self.app_name = layers.layer_name(app)
        self.loop: Optional[SimLoop] = None
        self.run: Any = None
        self.watchdog_s = 10.0
        # False in a forked child about to exit: its parked threads need not unwind.
        self.unwind_threads = not threads.in_forked_child
        self.last_stacks = ""
        self.server_task: Any = None

    def prepare_process(self) -> None:
        """Once per forked child: pins and hooks, then the app's layers wrapped."""
        if self.app is not None:
            return
        pins.pin_process()
        layers.install_background_hooks()
        self.app = layers.wrap_layers(self.raw_app)

    def begin_loop(self, run: Any) -> SimLoop:
        """The run's SimLoop, entered, with the process and the run pinned."""
        self.end_run()
        self.prepare_process()
        self.run = run
        layers.RunSlot.run = run
        self.loop = SimLoop(run, reorder_callbacks=self.reorder_callbacks, vary_timer_ties=self.vary_timer_ties)
        self.loop._bridge_enter()
        pins.pin_run(run)
        self._start_server_task()
        return self.loop

    def _start_server_task(self) -> None:
        """The server's main task, as uvicorn's ``asyncio.run(serve())`` has: anyio finds it
        as the root task (run_until_complete's callback marks it), so its worker threads live
        as long as the server, not as one request."""
        from asyncio import base_events
        async def serve(forever: asyncio.Future) -> None:
            await forever

        # Held here: a task only the loop's weak set knows is garbage to the collections
        # a run makes (pins.collect_young), and anyio would fall back to a request's task.
        self.server_task = self.loop.create_task(serve(self.loop.create_future()), name="server")
        self.server_task.add_done_callback(base_events._run_until_complete_cb)
        self.server_task._log_destroy_pending = False

    def begin_run(self, run: Any) -> Plan:
        self.begin_loop(run)
        builder = Scenario(_run=run)
        self.scenario(builder)
        if not builder.clients:
            raise ValueError("the scenario made no client: call s.client(Request(...)) at least once")
        run.configure_threads(self.watchdog_s, threads.watchdog_report, int(builder.thread_memory or 0))
        return Plan(loop=self.loop, app_name=self.app_name, server=builder.server_plan(),
                    clients=builder.clients, latency_budget_ns=int(builder.latency_budget * 1e9),
                    threads_bound=builder.threads_bound,
                    memory_budget=None if builder.memory_budget is None else int(builder.memory_budget))

    def python_stacks(self) -> str:
        """Every parked Python thread and pending asyncio task with its stack (reports)."""
        if self.run is None:
            return ""
        return threads.python_stacks(self.run, self.loop)

    def end_run(self) -> None:
        run = self.run
        if self.loop is not None:
            self.loop._bridge_leave()
            self.loop = None
        layers.RunSlot.run = None
        self.run = None
        if self.server_task is not None:
            # A run that ended before the loop's first step (every client left before
            # sending) never started the server's coroutine: close it, no warning.
            coroutine = self.server_task.get_coro()
            if inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED:
                coroutine.close()
        self.server_task = None
        pins.unpin_run()
        if run is not None:
            threads.end_run(run, self.unwind_threads)

    def start_app_call(self, scope: Dict[str, Any], call: Any) -> None:
        request = call.request
        context = contextvars.copy_context()
        context.run(layers.current_request.set, request)
        self.loop.create_task(self._app_call(scope, call), name=f"request-{request}", context=context)

    async def _app_call(self, scope: Dict[str, Any], call: Any) -> None:
        loop = self.loop

        async def receive():
            future = _ReceiveFuture(call, loop=loop)
            call.receive(future)
            return await future

        async def send(message):
            future = loop.create_future()
            call.send(message, future)
            await future

        try:
            await self.app(scope, receive, send)
        except BaseException as error:  # the server model reports it (app_raised)
            call.finish(error)
        else:
            call.finish(None)
