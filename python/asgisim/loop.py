"""SimLoop: a real asyncio event loop driven by asgisim's kernel.

The kernel is the master loop. asyncio runs as one kernel task, the loop task, which
calls ``_bridge_step()`` once per kernel step: due timers move to the ready queue (as
``BaseEventLoop._run_once`` does) and exactly one ready handle runs. Time is the
kernel's virtual clock; timers wake the loop task through kernel timers; there is no
selector, so real I/O inside a run raises ``EscapesSimulation`` naming the call. Threads
(``run_in_executor``, ``call_soon_threadsafe``) run under the kernel's baton
(asgisim/threads.py).
Everything else (Task, Future, call_soon, cancellation) is asyncio's own code.
"""

from __future__ import annotations

import asyncio
import heapq
from asyncio import base_events

from . import pins

MORE_READY = -1  # _bridge_step(): another handle is ready
IDLE = -2  # _bridge_step(): nothing ready and no timer
_base_call_soon = base_events.BaseEventLoop._call_soon


class EscapesSimulation(RuntimeError):
    """A call inside a run needs the real world (I/O, signals)."""


_ESCAPES = ("escapes the simulation: asgisim runs the app without real I/O "
            "(the uvicorn model is the server; use the scenario's clients)")
def _refused(name: str, why: str):
    """A loop method a run cannot serve: the run stops as escaped (exit 4), with the call
    and every thread's Python stack, and the caller gets EscapesSimulation."""
    def method(self, *args, **kwargs):
        from .threads import escape
        escape(self._bridge_run, f"loop.{name}() {why}")
    method.__name__ = name
    return method


def _escapes(name: str):
    return _refused(name, _ESCAPES)


class SimLoop(base_events.BaseEventLoop):
    """One run's asyncio loop. ``run`` is the native asgisim._native.Run."""

    _bridge_old_hooks = None  # set while the loop is the running loop
    _bridge_idle = False  # the loop task is blocked: call_soon/call_at must wake it
    _bridge_front = None  # while not None: where call_soon inserts (BridgeRun::complete)

    def __init__(self, run, reorder_callbacks: bool = False, vary_timer_ties: bool = False) -> None:
        super().__init__()
        self._bridge_run = run
        self._bridge_idle = False
        self._bridge_reorder = reorder_callbacks
        self._bridge_vary_ties = vary_timer_ties
        self._clock_resolution = 1e-9
        self._bridge_old_hooks = None
        self._bridge_gc_countdown = pins.GC_YOUNG_STEPS

    # ---- time --------------------------------------------------------------------
    def time(self) -> float:
        return self._bridge_run.now_ns() / 1e9

    # ---- tasks: named in the kernel's trace ---------------------------------------
    def create_task(self, coro, *, name=None, context=None):
        task = super().create_task(coro, name=name, context=context)
        self._bridge_run.note(f"asyncio task {task.get_name()}", 0)
        return task

    # ---- scheduling: wake the loop task when it is idle -------------------------
    def _call_soon(self, callback, args, context):
        handle = _base_call_soon(self, callback, args, context)  # (no super(): every handle)
        if self._bridge_front is not None:
            # A future the server answered within the Task's own call: its wake-up
            # runs next, as if the call had returned without yielding.
            self._ready.pop()
            self._ready.insert(self._bridge_front, handle)
            self._bridge_front += 1
        if self._bridge_idle:
            self._bridge_idle = False
            self._bridge_run.wake_loop()
        return handle

    def call_at(self, when, callback, *args, context=None):
        timer = super().call_at(when, callback, *args, context=context)
        if self._bridge_idle:
            self._bridge_idle = False
            self._bridge_run.wake_loop()
        return timer

    # ---- the step the kernel calls ----------------------------------------------
    def _bridge_move_due_timers(self) -> None:
        scheduled = self._scheduled
        if not scheduled:
            return  # (most steps: no clock read, no crossing)
        while scheduled and scheduled[0]._cancelled:
            self._timer_cancelled_count -= 1
            heapq.heappop(scheduled)._scheduled = False
        end_time = self.time() + self._clock_resolution
        due = []
        while scheduled:
            handle = scheduled[0]
            if handle._when >= end_time:
                break
            handle = heapq.heappop(scheduled)
            handle._scheduled = False
            if not handle._cancelled:
                due.append(handle)
        if self._bridge_vary_ties and len(due) > 1:
            # Timers due at the same instant: asyncio's heap order among them is an
            # accident of insertion, so random/pct choose it.
            start = 0
            while start < len(due):
                end = start + 1
                while end < len(due) and due[end]._when == due[start]._when:
                    end += 1
                if end - start > 1:
                    ties = due[start:end]
                    pick = self._bridge_run.choose("loop.timer_tie", len(ties))
                    due[start:end] = ties[pick:] + ties[:pick]
                start = end
        self._ready.extend(due)

    def _bridge_step(self) -> int:
        """Runs one ready handle; says what the loop task does next."""
        self._bridge_idle = False
        ready = self._ready
        if not ready:
            self._bridge_move_due_timers()
        if ready:
            if self._bridge_reorder and len(ready) > 1:
                ready.rotate(-self._bridge_run.choose("loop.reorder", len(ready)))
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()
            handle = None
            self._bridge_gc_countdown -= 1
            if not self._bridge_gc_countdown:  # a fixed point of the schedule (pins.py)
                self._bridge_gc_countdown = pins.GC_YOUNG_STEPS
                pins.collect_young()
        if not ready:
            self._bridge_move_due_timers()
        if ready:
            return MORE_READY
        self._bridge_idle = True
        if self._scheduled:
            return max(0, int(-(-self._scheduled[0]._when * 1e9 // 1)))
        return IDLE

    # ---- entering and leaving a run ---------------------------------------------
    def _bridge_enter(self) -> None:
        import sys
        self._thread_id = None
        self._bridge_old_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                               finalizer=self._asyncgen_finalizer_hook)
        asyncio.events._set_running_loop(self)

    def _bridge_leave(self) -> None:
        import sys
        asyncio.events._set_running_loop(None)
        if self._bridge_old_hooks is not None:
            sys.set_asyncgen_hooks(*self._bridge_old_hooks)
            self._bridge_old_hooks = None
        self.close()

    def is_running(self) -> bool:
        return self._bridge_old_hooks is not None

    # ---- what a run cannot do --------------------------------------------------
    def _process_events(self, event_list):
        pass

    def _write_to_self(self):
        pass

    def call_soon_threadsafe(self, callback, *args, context=None):
        """From a Python thread under the baton (asgisim.threads): the handle joins the
        ready queue at once, and the loop task wakes through the kernel."""
        self._check_closed()
        handle = self._call_soon(callback, args, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        return handle

    getaddrinfo = _escapes("getaddrinfo")
    getnameinfo = _escapes("getnameinfo")
    create_connection = _escapes("create_connection")
    create_server = _escapes("create_server")
    create_unix_connection = _escapes("create_unix_connection")
    create_unix_server = _escapes("create_unix_server")
    create_datagram_endpoint = _escapes("create_datagram_endpoint")
    connect_accepted_socket = _escapes("connect_accepted_socket")
    subprocess_exec = _escapes("subprocess_exec")
    subprocess_shell = _escapes("subprocess_shell")
    add_reader = _escapes("add_reader")
    add_writer = _escapes("add_writer")
    remove_reader = _escapes("remove_reader")
    remove_writer = _escapes("remove_writer")
    sock_recv = _escapes("sock_recv")
    sock_recv_into = _escapes("sock_recv_into")
    sock_sendall = _escapes("sock_sendall")
    sock_connect = _escapes("sock_connect")
    sock_accept = _escapes("sock_accept")
    sock_sendfile = _escapes("sock_sendfile")
    sendfile = _escapes("sendfile")
    start_tls = _escapes("start_tls")
    connect_read_pipe = _escapes("connect_read_pipe")
    connect_write_pipe = _escapes("connect_write_pipe")
    add_signal_handler = _escapes("add_signal_handler")
    remove_signal_handler = _escapes("remove_signal_handler")
    run_forever = _escapes("run_forever")
    run_until_complete = _escapes("run_until_complete")
