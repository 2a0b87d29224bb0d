"""Each seed in a fresh fork of the parent that imported the app.

The child runs one seed (or one replay, shrink or trace) and sends its result back
as JSON through a pipe; ``--jobs`` is how many children run at once. State one seed
leaves behind (module globals, caches, a half-closed loop) can neither mask nor cause
another seed's failure.
"""

from __future__ import annotations

import json
import os
import selectors
import traceback
from typing import Any, Callable, Dict, Iterable, Iterator, Tuple

from .spec import UsageError


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


def _start(work: Callable[[], Dict[str, Any]]) -> Tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        code = 0
        try:
            _child(write_fd, work)
        except BaseException:
            code = 70
        os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _finish(pid: int, chunks: list) -> Dict[str, Any]:
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if not data:
        raise RuntimeError(f"the run's process {pid} died without a result (wait status {status}); "
                           "a crash in native code or os._exit in the app")
    payload = json.loads(data)
    if "usage" in payload:
        raise UsageError(payload["usage"])
    if "error" in payload:
        raise RuntimeError(payload["error"] + "\n" + payload.get("traceback", ""))
    return payload["ok"]


def run_forked(work: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
    """Runs ``work`` in a fresh fork; returns its result."""
    pid, read_fd = _start(work)
    chunks = []
    with os.fdopen(read_fd, "rb") as pipe:
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return _finish(pid, chunks)


def run_many(items: Iterable[Any], work: Callable[[Any], Dict[str, Any]], jobs: int) -> Iterator[Tuple[Any, Dict[str, Any]]]:
    """Runs ``work(item)`` for each item in its own fork, ``jobs`` at once; yields in item order."""
    pending = list(items)
    selector = selectors.DefaultSelector()
    running: Dict[int, Tuple[Any, int, list]] = {}  # read fd -> (index, pid, chunks)
    done: Dict[int, Dict[str, Any]] = {}
    next_start, next_yield = 0, 0
    try:
        while next_yield < len(pending):
            while next_start < len(pending) and len(running) < max(1, jobs):
                item = pending[next_start]
                pid, read_fd = _start(lambda item=item: work(item))
                running[read_fd] = (next_start, pid, [])
                selector.register(read_fd, selectors.EVENT_READ)
                next_start += 1
            while next_yield in done:
                yield pending[next_yield], done.pop(next_yield)
                next_yield += 1
            if next_yield >= len(pending) or not running:
                continue
            for key, _ in selector.select():
                index, pid, chunks = running[key.fd]
                chunk = os.read(key.fd, 65536)
                if chunk:
                    chunks.append(chunk)
                    continue
                selector.unregister(key.fd)
                os.close(key.fd)
                del running[key.fd]
                done[index] = _finish(pid, chunks)
    finally:
        for fd, (_, pid, _) in running.items():
            os.close(fd)
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        selector.close()
