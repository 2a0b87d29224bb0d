"""Automatic GC is off during a run; the young generations are collected at fixed points
of the schedule (every pins.GC_YOUNG_STEPS loop steps), so a run's cyclic garbage is
finalized during the run, at the same virtual times in every run of the same seed (each
in a fresh fork, as the command line runs seeds)."""

import time

import pytest


def _finalized_during_run():
    """One run of seed 1 in this (forked) process: the virtual time of every finalizer of
    cyclic garbage that ran inside it."""
    from asgisim import NEVER, Request, layers
    from asgisim.session import Target

    finalized = []

    class Cycle:
        def __init__(self):
            self.me = self  # garbage only a collection frees

        def __del__(self):
            if layers.RunSlot.run is not None:
                finalized.append(time.monotonic_ns())  # the virtual clock during a run

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        Cycle()
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def scenario(s):
        s.client(*[Request("GET", "/", chunks=[], chunk_pause=0, read_pause=0.001, disconnect=NEVER)
                   for _ in range(300)], pauses=(0.0,))

    target = Target("gc:app", "gc:scenario", app, scenario, strategy="random")
    target.check()
    result = target.run_seed(1)
    assert result["failure"] == 0, result["describe"]
    return {"finalized": finalized}


def test_cyclic_garbage_is_finalized_at_fixed_points_of_a_run():
    try:
        import asgisim._native  # noqa: F401
    except ImportError as error:
        pytest.skip(f"asgisim._native is not built: {error}")
    from asgisim import forking

    first, second = (forking.run_forked(_finalized_during_run)["finalized"] for _ in range(2))
    # 300 requests take several times GC_YOUNG_STEPS loop steps: most of their cycles are
    # freed during the run (not at the next run's start), at the same instants both times.
    assert len(first) >= 150, len(first)
    assert first == second
    assert len(set(first)) > 1, first  # at several points, not one


def test_the_parent_freezes_what_it_imported_once_and_collects_what_it_makes_later():
    import gc
    import weakref

    from asgisim import forking

    forking.run_forked(dict)
    frozen = gc.get_freeze_count()
    # Everything alive at the first fork (the app and its imports) is out of the
    # collector's reach: each fork's start collection skips it.
    assert frozen > 0
    forking.run_forked(dict)
    assert gc.get_freeze_count() == frozen, "frozen once, not at every fork"

    class Later:
        def __init__(self):
            self.me = self

    later = Later()
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None, "an object made after the freeze is still collected"
