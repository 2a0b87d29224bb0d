"""Each seed in a fresh fork of the parent that imported the app.

The child runs one seed (or one replay, shrink or trace) and sends its result back
as JSON through a pipe; ``--jobs`` is how many children run at once. State one seed
leaves behind (module globals, caches, a half-closed loop) can neither mask nor cause
another seed's failure, and a child that crashes (a segfault or an abort in native
code) costs one seed, not the sweep: ``run_many`` reports it as ``{"crashed": ...}``.
"""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import traceback
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Tuple

from . import pins
from .interruption import SweepControl, ignore_in_child
from .spec import UsageError

# How long the parent waits in select() before it looks at the deadline and the signals again.
_POLL_S = 0.05


class RunCrashed(RuntimeError):
    """A forked run died without a result (replay, shrink and trace of a crashing seed)."""


class Abandoned(Exception):
    """The run was killed: a second signal, or the grace period after the first one ran out."""


def _child(write_fd: int, work: Callable[[], Dict[str, Any]]) -> None:
    try:
        payload = {"ok": work()}
    except UsageError as error:
        payload = {"usage": str(error)}
    except BaseException as error:  # reported by the parent, never lost
        payload = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
    data = json.dumps(payload).encode()
    view = memoryview(data)
    while view:
        written = os.write(write_fd, view)
        view = view[written:]
    os.close(write_fd)


# prctl(2): a signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """A forked run goes when its parent does: replay, shrink and trace handle no signal,
    so a ``timeout`` or a kill of the command must not leave its run going as an orphan."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: orphans are possible there
        return
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(70)


def _start(work: Callable[[], Dict[str, Any]]) -> Tuple[int, int]:
    pins.prepare_parent()
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            _die_with_parent(parent)
            ignore_in_child()
            from . import threads
            threads.in_forked_child = True
            os.close(read_fd)
            _child(write_fd, work)
        except BaseException:
            code = 70
        os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def death(status: int) -> str:
    """What a wait status says about a child that sent no result."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"crashed with {name}"
    return f"exited with status {os.WEXITSTATUS(status)} without a result (os._exit or exit in the app?)"


def _finish(pid: int, chunks: list, crash_result: bool = False) -> Dict[str, Any]:
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if not data:
        if crash_result:
            return {"crashed": death(status)}
        raise RunCrashed(f"the run's process {pid} died without a result ({death(status)}): "
                         "a crash in native code (the app's or asgisim's) or os._exit in the app")
    payload = json.loads(data)
    if "usage" in payload:
        raise UsageError(payload["usage"])
    if "error" in payload:
        if crash_result:
            return {"crashed": f"raised {payload['error']}", "traceback": payload.get("traceback", "")}
        raise RuntimeError(payload["error"] + "\n" + payload.get("traceback", ""))
    return payload["ok"]


def _kill(pid: int, read_fd: int) -> None:
    os.close(read_fd)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def run_forked(work: Callable[[], Dict[str, Any]], control: Optional[SweepControl] = None) -> Dict[str, Any]:
    """Runs ``work`` in a fresh fork; returns its result. With ``control``, the child is
    killed and Abandoned raised when the control says to abandon the runs in flight."""
    pid, read_fd = _start(work)
    chunks = []
    with selectors.DefaultSelector() as selector:
        selector.register(read_fd, selectors.EVENT_READ)
        while True:
            if control is not None and control.abandon():
                _kill(pid, read_fd)
                raise Abandoned()
            if not selector.select(_POLL_S if control is not None else None):
                continue
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(read_fd)
    return _finish(pid, chunks)


def run_many(items: Iterable[Any], work: Callable[[Any], Dict[str, Any]], jobs: int,
             control: Optional[SweepControl] = None) -> Iterator[Tuple[Any, Dict[str, Any]]]:
    """Runs ``work(item)`` for each item in its own fork, ``jobs`` at once; yields in item order.

    ``items`` is read lazily (it may be endless); no item starts once ``control.may_start()``
    is false, and when ``control.abandon()`` the children in flight are killed and counted
    in ``control.runs_abandoned``: what was yielded is a prefix of the items. A child that
    died without a result yields ``{"crashed": "crashed with SIGSEGV"}``.
    """
    jobs = max(1, jobs)
    ahead_max = 4 * jobs  # results held back for in-order yielding, at most
    source = iter(items)
    selector = selectors.DefaultSelector()
    started: Dict[int, Any] = {}  # index -> item, until yielded
    running: Dict[int, Tuple[int, int, list]] = {}  # read fd -> (index, pid, chunks)
    done: Dict[int, Dict[str, Any]] = {}
    next_start, next_yield, exhausted, abandoning = 0, 0, False, False
    try:
        while True:
            while (not exhausted and len(running) < jobs and next_start - next_yield < ahead_max
                   and (control is None or control.may_start())):
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pid, read_fd = _start(lambda item=item: work(item))
                started[next_start] = item
                running[read_fd] = (next_start, pid, [])
                selector.register(read_fd, selectors.EVENT_READ)
                next_start += 1
            while next_yield in done:
                yield started.pop(next_yield), done.pop(next_yield)
                next_yield += 1
            if not running:
                if next_yield == next_start and (exhausted or (control is not None and not control.may_start())):
                    return
                continue
            if control is not None and control.abandon():
                abandoning = True
                return  # the finally block kills the runs in flight
            for key, _ in selector.select(_POLL_S if control is not None else None):
                index, pid, chunks = running[key.fd]
                chunk = os.read(key.fd, 65536)
                if chunk:
                    chunks.append(chunk)
                    continue
                selector.unregister(key.fd)
                os.close(key.fd)
                del running[key.fd]
                done[index] = _finish(pid, chunks, crash_result=True)
    finally:
        for fd, (_, pid, _) in running.items():
            _kill(pid, fd)
        if abandoning:
            control.runs_abandoned += len(running)
        selector.close()
