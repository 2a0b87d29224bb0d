"""Sync code on real threads under the kernel's baton (DESIGN.md, "Threads").

``install()`` runs once per process, before the app is imported, so that the locks the
app makes at import time are ours too. Outside a run every patched name behaves as the
original (a real lock, a real sleep, a real thread). Inside a run:

* ``threading.Lock`` (and so ``RLock``, ``Condition``, ``Semaphore``, ``BoundedSemaphore``,
  ``Event``, ``Barrier``, ``queue.Queue`` and ``queue.SimpleQueue``, which CPython builds on
  it in Python) is a lock of the kernel: a thread that waits for it blocks in virtual
  time, with a virtual timeout;
* ``Thread.start`` starts a real OS thread that runs only while it holds the baton, as a
  kernel simulated thread; ``Thread.join`` waits for it in virtual time;
* ``time.sleep`` on a thread sleeps in virtual time; on the loop's thread it keeps the
  loop busy that long (nothing else on the loop runs meanwhile, as in real asyncio);
* a socket made or resolved inside a run escapes the simulation: the run stops (exit 4)
  with the call and every thread's Python stack.

anyio's ``to_thread.run_sync``, Starlette's ``run_in_threadpool``, ``asyncio.to_thread``,
``loop.run_in_executor`` and ``ThreadPoolExecutor`` then run unmodified.
"""

from __future__ import annotations

import _thread
import os
import queue
import sys
import threading
import time
from typing import Any, Callable, List, Optional

from . import layers
from .loop import EscapesSimulation

_real_allocate_lock = _thread.allocate_lock
_real_sleep = time.sleep
_real_start = threading.Thread.start
_real_wait_for_tstate_lock = threading.Thread._wait_for_tstate_lock

# Files whose frames never name a lock (the lock is made or waited on for their caller).
_PLUMBING = {threading.__file__, queue.__file__, __file__}
_installed = False
# Set in a forked child (forking.py), which exits right after its run.
in_forked_child = False
# Called first on every thread a run starts (the fuzz target traces its coverage there).
on_thread_start: Optional[Callable[[], None]] = None
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Locks used in the current run (their real state follows the run's at its end).
_touched: List[Any] = []
# The escape-prone audit events: a real socket or name lookup inside a run.
_ESCAPING_EVENTS = {"socket.__new__": "socket.socket()", "socket.getaddrinfo": "socket.getaddrinfo()",
                    "socket.gethostbyname": "socket.gethostbyname()",
                    "socket.gethostbyaddr": "socket.gethostbyaddr()",
                    "socket.getnameinfo": "socket.getnameinfo()"}


def _site() -> str:
    """Where a lock is first used in a run: the first frame outside the plumbing."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename in _PLUMBING:
        frame = frame.f_back
    if frame is None:
        return "threading.Lock"
    path = frame.f_code.co_filename.replace("\\", "/").rsplit("/", 2)
    return f"{'/'.join(path[-2:])}:{frame.f_lineno} {frame.f_code.co_name}"


class Lock:
    """``threading.Lock``: a real lock outside a run, the kernel's inside one."""

    __slots__ = ("_real", "_run", "_index", "__weakref__")

    def __init__(self) -> None:
        self._real = _real_allocate_lock()
        self._run: Any = None
        self._index = 0

    def _in(self, run: Any) -> int:
        if self._run is not run:
            self._index = run.lock_new(_site(), self._real.locked())
            self._run = run
            _touched.append(self)
        return self._index

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        run = layers.RunSlot.run
        if run is None:
            return self._real.acquire(blocking, timeout)
        return run.lock_acquire(self._in(run), blocking, timeout)

    def release(self) -> None:
        run = layers.RunSlot.run
        if run is None:
            self._real.release()
        else:
            run.lock_release(self._in(run))

    def locked(self) -> bool:
        run = layers.RunSlot.run
        if run is None:
            return self._real.locked()
        return run.lock_locked(self._in(run))

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        self._real = _real_allocate_lock()
        self._run = None

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<asgisim.threads.Lock {state} at {id(self):#x}>"  # nondeterminism-ok: a repr, as CPython's


def _start(self: threading.Thread) -> None:
    run = layers.RunSlot.run
    if run is None:
        return _real_start(self)
    if not self._initialized:
        raise RuntimeError("thread.__init__() not called")
    if self._started.is_set():
        raise RuntimeError("threads can only be started once")
    with threading._active_limbo_lock:
        threading._limbo[self] = self
    try:
        self._asgisim_thread = (run, run.start_thread(_bootstrap_of(self), self.name))
    except Exception:
        with threading._active_limbo_lock:
            del threading._limbo[self]
        raise
    # start() returns once the new thread runs; here it is runnable (the scheduler
    # decides when it runs), and is_alive() is already true.
    self._started.set()


def _bootstrap_of(thread: threading.Thread) -> Callable[[], None]:
    hook = on_thread_start
    if hook is None:
        return thread._bootstrap

    def bootstrap() -> None:
        hook()
        thread._bootstrap()
    return bootstrap


def _wait_for_tstate_lock(self: threading.Thread, block: bool = True, timeout: float = -1) -> None:
    handle = getattr(self, "_asgisim_thread", None)
    run = layers.RunSlot.run
    if handle is not None and run is not None and handle[0] is run:
        if not run.join_thread(handle[1], block, -1 if timeout is None else timeout):
            return
        block = False  # it has ended: its thread state is gone and the lock released
    if self._tstate_lock is None:
        if not self._is_stopped and handle is not None:
            return  # started in a run that ended before it ran
    _real_wait_for_tstate_lock(self, block, timeout)


def _sleep(seconds: float) -> None:
    run = layers.RunSlot.run
    if run is None:
        return _real_sleep(seconds)
    if run.on_thread():
        run.thread_sleep(seconds)
    else:
        run.loop_busy(seconds)


def _audit(event: str, args: Any) -> None:
    call = _ESCAPING_EVENTS.get(event)
    if call is None:
        return
    run = layers.RunSlot.run
    if run is not None:
        escape(run, f"{call} inside a run: real network I/O escapes the simulation (the uvicorn "
                     "model is the server, the scenario's clients are the network)")


def escape(run: Any, what: str) -> None:
    """Real I/O inside a run: the run stops as escaped (exit 4) with the call and every
    thread's Python stack; the caller gets EscapesSimulation."""
    report = escape_report(threading.get_ident(), what)  # nondeterminism-ok: finds this thread's stack
    run.escape(report)
    raise EscapesSimulation(what)


def install() -> None:
    """Once per process, before the app is imported (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    from .pins import install_clocks
    install_clocks()
    threading.Lock = Lock
    threading._allocate_lock = Lock
    threading._CRLock = None  # RLock() builds threading._RLock on Lock
    queue.SimpleQueue = queue._PySimpleQueue  # built on threading.Semaphore
    threading.Thread.start = _start
    threading.Thread._wait_for_tstate_lock = _wait_for_tstate_lock
    time.sleep = _sleep
    sys.addaudithook(_audit)


def end_run(run: Any, unwind: bool) -> None:
    """After a run: threads still parked unwind (or stay parked in a child about to exit);
    the real state of each lock the run used follows the run's."""
    run.release_threads(unwind)
    for lock in _touched:
        if lock._run is run:
            locked = run.lock_locked(lock._index)
            if locked and not lock._real.locked():
                lock._real.acquire(False)
            elif not locked and lock._real.locked():
                lock._real.release()
            lock._run = None
    _touched.clear()


# ---- reports ---------------------------------------------------------------------


def _frames_text(frame: Any, limit: int = 14) -> List[str]:
    """A thread's stack from `frame` outwards, innermost last, without asgisim's frames."""
    import traceback
    stack = [f for f in traceback.extract_stack(frame) if not f.filename.startswith(_PACKAGE_DIR)]
    return _format(stack[-limit:])


def _format(entries: List[Any]) -> List[str]:
    lines = []
    for entry in entries:
        lines.append(f'      File "{entry.filename}", line {entry.lineno}, in {entry.name}')
        if entry.line:
            lines.append(f"        {entry.line}")
    return lines


def resource_of(frames: List[Any]) -> Optional[str]:
    """The pool, limiter or queue a stack waits on, from the innermost frame that has one."""
    for frame in reversed(frames):
        owner = frame.f_locals.get("self")
        if owner is None:
            continue
        kind = type(owner).__name__
        if kind == "CapacityLimiter" or hasattr(owner, "borrowed_tokens"):
            try:
                return (f"a token of anyio CapacityLimiter ({owner.borrowed_tokens} of "
                        f"{owner.total_tokens} tokens borrowed)")
            except Exception:  # noqa: BLE001 - a report never fails on a strange object
                return "a token of an anyio CapacityLimiter"
        if kind.endswith("Pool") and hasattr(owner, "status"):
            try:
                return f"a connection of SQLAlchemy {kind} ({owner.status()})"
            except Exception:  # noqa: BLE001
                return f"a connection of SQLAlchemy {kind}"
    return None


class _Groups:
    """Stacks that are the same, and wait for the same thing, are printed once."""

    def __init__(self) -> None:
        self.groups: dict = {}

    def add(self, what: str, name: str, waits: Optional[str], lines: List[str]) -> None:
        self.groups.setdefault((what, waits, tuple(lines)), []).append(name)

    def text(self) -> List[str]:
        out = []
        for (what, waits, lines), names in self.groups.items():
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            plural = what if len(names) == 1 else what + "s"
            out.append(f"  {len(names)} {plural} ({shown}){' wait for ' + waits if waits else ''}:")
            out.extend(lines)
        return out


def _thread_stacks(run: Any, frames_by_ident: dict, groups: _Groups, skip: int = 0) -> None:
    for number, name, ident, task, exited in run.threads_table():
        if exited or (skip and ident == skip):
            continue
        frame = frames_by_ident.get(ident)
        label = f"{name!r} #{number}"
        if frame is None:
            groups.add("thread", label, None, ["      (started, has not run yet)"])
            continue
        chain, f = [], frame
        while f is not None:
            chain.append(f)
            f = f.f_back
        chain.reverse()
        groups.add("thread", label, resource_of(chain), _frames_text(frame))


def _await_chain(task: Any) -> List[Any]:
    """The frames of a pending task's await chain, outermost first."""
    frames, awaited = [], task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None) or \
            getattr(awaited, "ag_frame", None)
        if frame is None and frames:
            # An async generator's asend/athrow (contextlib's __aexit__): go on in the generator.
            generator = getattr(frames[-1].f_locals.get("self"), "gen", None)
            frame = getattr(generator, "ag_frame", None)
            awaited = generator
        if frame is None:
            break
        frames.append(frame)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None) or \
            getattr(awaited, "ag_await", None)
    return frames


def _task_stacks(loop: Any, groups: _Groups) -> None:
    import asyncio
    import linecache
    tasks = sorted((t for t in asyncio.all_tasks(loop) if not t.done()), key=lambda t: t.get_name())
    for task in tasks:
        frames = _await_chain(task)
        if not frames:
            continue
        lines = []
        for frame in frames[-14:]:
            code = frame.f_code
            if code.co_filename.startswith(_PACKAGE_DIR):
                continue
            lines.append(f'      File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}')
            source = linecache.getline(code.co_filename, frame.f_lineno).strip()
            if source:
                lines.append(f"        {source}")
        groups.add("asyncio task", repr(task.get_name()), resource_of(frames), lines)


def python_stacks(run: Any, loop: Any) -> str:
    """Every Python thread of the run and every pending asyncio task, with their stacks
    (the same stack waiting for the same thing printed once)."""
    groups = _Groups()
    _thread_stacks(run, sys._current_frames(), groups)
    if loop is not None:
        _task_stacks(loop, groups)
    lines = groups.text()
    if not lines:
        return ""
    return "Python threads and tasks at the end of the run:\n" + "\n".join(lines) + "\n"


def escape_report(ident: int, what: str) -> str:
    """The report of an escape: what left, where, and every thread's stack."""
    frames = sys._current_frames()
    run = layers.RunSlot.run
    name = next((f"thread {n!r} #{num}" for num, n, i, _, _ in (run.threads_table() if run else ())
                 if i == ident), "the event loop's thread")
    lines = [f"escapes the simulation in {name}: {what}"]
    frame = frames.get(ident)
    if frame is not None:
        lines.append("  the call that escaped:")
        lines.extend(_frames_text(frame))
    if run is not None:
        groups = _Groups()
        _thread_stacks(run, frames, groups, skip=ident)
        lines.extend(groups.text())
    return "\n".join(lines) + "\n"


def watchdog_report(ident: int, why: str) -> str:
    """The proxy's report when a thread kept the baton past the watchdog."""
    return escape_report(ident, why + " (blocked outside the simulation: in C code, on a lock "
                                      "asgisim's patches do not cover, or in real I/O)")
