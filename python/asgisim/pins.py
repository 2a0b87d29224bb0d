"""Determinism pins: what a real app could read from outside the choice stream.

During a run: ``time.*`` reads the kernel's virtual clock; ``random``, ``os.urandom``
and so ``uuid.uuid4``/``secrets`` are answered from a generator seeded through the
choice stream; asyncio task names restart from Task-1; automatic GC is off (collected
at fixed points: the start of a run, and every ``GC_YOUNG_STEPS`` loop steps the young
generations, see ``collect_young``); anyio's CancelScope keeps its tasks in insertion order (it cancels
them in set order, which otherwise follows memory addresses); threads run under the
kernel's baton (asgisim/threads.py). PYTHONHASHSEED is fixed by
the command line, which re-executes itself when it is not.
"""

from __future__ import annotations

import gc
import itertools
import os
import random
import time
from typing import Any, Dict, Iterator

# The epoch the virtual clock starts at (2023-11-14T22:13:20Z), so wall-clock reads look real.
EPOCH_NS = 1_700_000_000 * 1_000_000_000

_originals: Dict[str, Any] = {}


class _OrderedTaskSet(set):
    """A set that iterates in insertion order (or reversed, or shuffled: probes)."""

    order = "insertion"
    rng: Any = None

    def __init__(self) -> None:
        super().__init__()
        self._sequence: Dict[Any, None] = {}

    def add(self, item: Any) -> None:
        super().add(item)
        self._sequence[item] = None

    def remove(self, item: Any) -> None:
        super().remove(item)
        del self._sequence[item]

    def discard(self, item: Any) -> None:
        super().discard(item)
        self._sequence.pop(item, None)

    def __iter__(self) -> Iterator[Any]:
        items = list(self._sequence)
        if self.order == "reverse":
            items.reverse()
        elif self.order == "random":
            self.rng.shuffle(items)
        return iter(items)


def install_cancel_order(order: str = "insertion") -> None:
    """Fixes the order in which anyio 3.x delivers a scope's cancellation.

    ``order`` is "insertion" (the order the tasks entered the scope), "reverse", or
    "random:SEED" (a fresh shuffle each time; a probe for order-dependent outcomes).
    """
    try:
        import anyio._backends._asyncio as backend
    except ImportError:
        return
    if order.startswith("random:"):
        _OrderedTaskSet.order, _OrderedTaskSet.rng = "random", random.Random(int(order[7:]))
    elif order in ("insertion", "reverse"):
        _OrderedTaskSet.order = order
    else:
        raise ValueError(f"cancel order {order!r}: expected insertion, reverse or random:SEED")
    scope_class = backend.CancelScope
    if getattr(scope_class, "_probe_installed", False):
        return
    original_init = scope_class.__init__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._tasks = _OrderedTaskSet()

    scope_class.__init__ = __init__
    scope_class._probe_installed = True


_parent_prepared = False


def prepare_parent() -> None:
    """Once in the parent, before its first fork (forking.py): what every fork would
    otherwise do again. The imports a run makes lazily (anyio's asyncio backend, which
    pin_process patches; ``importlib.metadata`` and the package versions the decision
    log's header names), then a collection and ``gc.freeze()``: each run starts with a
    full collection (pin_run), which would otherwise traverse the app's and its imports'
    objects again in every fork; frozen, they are also never written by the collector, so
    the forks keep sharing their pages. A frozen object is never collected, which changes
    nothing here: nothing is garbage right after the collection, and a run never collects
    the oldest generation after its start. Objects the parent makes later (results) stay
    collectable."""
    global _parent_prepared
    if _parent_prepared:
        return
    _parent_prepared = True
    try:
        import anyio._backends._asyncio  # noqa: F401
    except ImportError:
        pass
    from .session import package_versions
    package_versions()
    gc.collect()
    gc.freeze()


def pin_process() -> None:
    """Once per forked child, before its first run."""
    gc.disable()
    install_cancel_order("insertion")
    from . import threads
    threads.install()


_CLOCKS = {"time": lambda ns: (EPOCH_NS + ns) / 1e9, "time_ns": lambda ns: EPOCH_NS + ns,
           "monotonic": lambda ns: ns / 1e9, "monotonic_ns": lambda ns: ns,
           "perf_counter": lambda ns: ns / 1e9, "perf_counter_ns": lambda ns: ns}


def _clock(name: str) -> Any:
    from .layers import RunSlot
    real = getattr(time, name)
    virtual = _CLOCKS[name]

    def clock():
        run = RunSlot.run
        return real() if run is None else virtual(run.now_ns())
    clock.__name__ = name
    clock.__doc__ = f"time.{name}(): the kernel's virtual clock inside an asgisim run, else the real one."
    return clock


def install_clocks() -> None:
    """Once per process, before the app is imported: ``from time import time`` (SQLAlchemy's
    pool timeouts, ``queue``, ``threading``) must read the virtual clock inside a run too, not
    only ``time.time`` looked up at call time."""
    import queue
    import threading
    clocks = {name: _clock(name) for name in _CLOCKS}
    for name, clock in clocks.items():
        setattr(time, name, clock)
    threading._time = clocks["monotonic"]  # Condition.wait_for, Semaphore.acquire(timeout=)
    queue.time = clocks["monotonic"]  # Queue.get/put(timeout=)


# During a run, the collections CPython's own thresholds would make, at points of the
# schedule instead of allocation counts (which depend on freelists, so on what the
# process did before the run): every GC_YOUNG_STEPS loop steps (SimLoop._bridge_step)
# the youngest generation, every GC_MIDDLE_EVERY-th time the middle one too. Without
# them a run keeps all its cyclic garbage to the next run's full collection, which then
# costs more than the run itself (bench/python_bridge_bench.py, docs/performance.md).
GC_YOUNG_STEPS = 128
GC_MIDDLE_EVERY = 10
_young_collections = 0


def collect_young() -> None:
    """A collection at a fixed point of the run (from the loop's step)."""
    global _young_collections
    _young_collections += 1
    if _young_collections == GC_MIDDLE_EVERY:
        _young_collections = 0
        gc.collect(1)
    else:
        gc.collect(0)


def pin_run(run: Any) -> None:
    """At the start of every run: clocks, randomness, task names, a collection."""
    import asyncio.tasks
    global _young_collections
    gc.collect()
    _young_collections = 0
    asyncio.tasks._task_name_counter = itertools.count(1)
    generator = random.Random(run.choose("random.seed", 1 << 62))
    random.seed(generator.getrandbits(64))

    def urandom(size: int) -> bytes:
        return generator.randbytes(size)

    def now_ns() -> int:
        return run.now_ns()

    patches = {
        (time, "time"): lambda: (EPOCH_NS + now_ns()) / 1e9,
        (time, "time_ns"): lambda: EPOCH_NS + now_ns(),
        (time, "monotonic"): lambda: now_ns() / 1e9,
        (time, "monotonic_ns"): now_ns,
        (time, "perf_counter"): lambda: now_ns() / 1e9,
        (time, "perf_counter_ns"): now_ns,
        (os, "urandom"): urandom,
        (random, "_urandom"): urandom,
    }
    for (module, name), replacement in patches.items():
        key = f"{module.__name__}.{name}"
        _originals.setdefault(key, getattr(module, name))
        setattr(module, name, replacement)


def unpin_run() -> None:
    """Puts the clocks and randomness back (the child may report after its run)."""
    import sys
    for key, original in list(_originals.items()):
        module_name, _, name = key.rpartition(".")
        if module_name in sys.modules:
            setattr(sys.modules[module_name], name, original)
