"""A deterministic asyncio event loop for the differential runner.

Two things make a real asyncio + anyio run vary from one execution to the next, and
both are removed here without touching Starlette or anyio's scheduling logic:

* Time. ``loop.time()`` is a virtual clock (float seconds, starting at 0) that moves
  only when the loop is idle: when no callback is ready, the clock jumps to the
  earliest timer instead of sleeping. No case ever sleeps for real, and "hung" means
  that the virtual clock reached the case's time box (every task was blocked) or that
  the loop spun past its step budget (a task that never blocks).
* Threads. ``anyio.to_thread.run_sync`` hands work to a worker thread and the result
  comes back through ``call_soon_threadsafe`` at a moment chosen by the OS. Here a
  submission blocks the loop thread until the worker has finished the call and posted
  its result, so the result callback lands in the ready queue right after whatever
  the submitting callback scheduled before it. This is one of the schedules real
  asyncio allows (a short call that wins the GIL at once), and it is the one
  asgisim's ``fifo`` strategy models: "a simulated thread that becomes runnable runs
  until it next blocks before the loop takes its next step". Code run this way must
  not call back into the loop (``anyio.from_thread``): it would deadlock.

Everything else (FIFO ready queue, one hop per future wake-up, anyio's cancel-scope
retry callbacks) is the real asyncio 3.11 / anyio 3.x machinery.
"""

from __future__ import annotations

import asyncio
import os
import queue
import selectors
import sys
from typing import Any, Callable, Dict, Iterator, Optional


class VirtualClock:
    """Virtual time plus the per-case budgets (time box and step budget)."""

    def __init__(self, deadline_s: float, step_budget: int,
                 on_expired: Callable[[str], None]) -> None:
        self.now_s = 0.0
        self.deadline_s = deadline_s      # the case's time box, virtual seconds
        self.step_budget = step_budget    # loop iterations allowed before the time box
        self.steps = 0                    # loop iterations so far (selector calls)
        self.expired_reason: Optional[str] = None  # "timebox" | "step_budget"
        self._on_expired = on_expired

    def _expire(self, reason: str) -> None:
        if self.expired_reason is None:
            self.expired_reason = reason
            self._on_expired(reason)

    def advance_to(self, when_s: float) -> None:
        if when_s > self.now_s:
            self.now_s = when_s
        if self.now_s >= self.deadline_s:
            self._expire("timebox")

    def count_step(self) -> None:
        self.steps += 1
        if self.steps > self.step_budget and self.expired_reason is None:
            # A spinning task never lets the loop go idle; force the time box.
            self._expire("step_budget")
            self.now_s = max(self.now_s, self.deadline_s)


class _VirtualSelector(selectors.BaseSelector):
    """Wraps the real selector; a timed wait becomes a jump of the virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = clock
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    def register(self, fileobj, events, data=None):
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj):
        return self._real.unregister(fileobj)

    def modify(self, fileobj, events, data=None):
        return self._real.modify(fileobj, events, data)

    def get_map(self):
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout=None):
        self._clock.count_step()
        if timeout is None:
            # Nothing ready and no timer: only a real thread can wake the loop. During
            # a case the time box is always pending, so this happens only in
            # asyncio.run's shutdown (shutdown_default_executor).
            return self._real.select(None)
        if timeout > 0 and _worker_threads_busy():
            # Only with the free-threads probe: a worker is still running, so the
            # loop waits for it for real instead of jumping to the next timer.
            return self._real.select(None)
        if timeout > 0:
            target = self._clock.now_s + timeout
            scheduled = getattr(self.loop, "_scheduled", None)
            if scheduled:
                target = scheduled[0].when()  # exact, no float drift
            self._clock.advance_to(target)
        return self._real.select(0)


def _worker_threads_busy() -> bool:
    if _installed:
        return False  # submissions run to completion; no worker is ever busy here
    import threading

    return any(getattr(getattr(thread, "queue", None), "unfinished_tasks", 0)
               for thread in threading.enumerate()
               if type(thread).__name__.endswith("WorkerThread") and not thread.stopping)


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        selector = _VirtualSelector(clock)
        super().__init__(selector=selector)
        selector.loop = self
        self._virtual_clock = clock

    def time(self) -> float:
        return self._virtual_clock.now_s


class VirtualClockPolicy(asyncio.DefaultEventLoopPolicy):
    """Given to anyio.run(backend_options={"policy": ...}); one clock per case."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        self.loop = VirtualClockLoop(self._clock)
        return self.loop

    def forget_loop(self) -> None:
        """Drops anyio's per-loop variables of the finished loop.

        anyio 3 keeps them in a WeakKeyDictionary keyed by the loop, but the idle
        worker-thread list stored there refers back to the loop, so neither would ever
        be freed: without this, every case with a thread call leaks its loop.
        """
        import anyio.lowlevel

        loop = getattr(self, "loop", None)
        run_vars = getattr(anyio.lowlevel, "_run_vars", None)
        if loop is not None and run_vars is not None:
            run_vars.pop(loop, None)
        self.loop = None


class _RunToCompletionQueue(queue.Queue):
    """anyio's worker-thread job queue; put_nowait returns once the job is done."""

    def put_nowait(self, item) -> None:
        super().put_nowait(item)
        if item is not None:  # None is the stop sentinel; its task is never marked done
            self.join()


_installed = False


def install_deterministic_worker_threads() -> None:
    """Make anyio 3.x's asyncio worker threads run each call to completion on submit."""
    global _installed
    if _installed:
        return
    import anyio._backends._asyncio as backend

    base = getattr(backend, "WorkerThread", None)
    if base is None:  # pragma: no cover - anyio 4 reorganised this
        raise RuntimeError("anyio._backends._asyncio.WorkerThread not found; "
                           "the runner supports anyio 3.x")

    class DeterministicWorkerThread(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.queue = _RunToCompletionQueue(2)

    backend.WorkerThread = DeterministicWorkerThread
    _installed = True


# anyio's cancel-scope order pin is shared with the bridge (python/asgisim/pins.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from asgisim.pins import _OrderedTaskSet, install_cancel_order  # noqa: E402,F401
