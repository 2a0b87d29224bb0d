"""The pytest plugin on the examples (docs/python.md, "pytest"):

    cd examples/python && ../../build/dev/python/asgisim-python -m pytest test_with_pytest.py

A fixed app passes its seeds; a known bug is found (``check=False`` returns the failure
instead of failing the test). Drop ``check=False`` from ``test_847_is_found`` to see the
report of a failing test and its two reproduce commands.
"""

import pytest


@pytest.mark.asgisim(scenario="body_read_twice:scenario", seeds=20)
def test_body_read_twice_fixed(asgisim):
    asgisim.run("body_read_twice:fixed_app")


@pytest.mark.asgisim(scenario="body_read_twice:scenario", seeds=20)
def test_847_is_found(asgisim):
    result = asgisim.run("body_read_twice:app", check=False)
    assert result.failure is not None
    assert (result.failure.invariant, result.failure.layer) == ("no-deadlock", "scheduler")


def test_completion_not_delayed_without_the_middleware(asgisim):
    asgisim.run("completion_delayed:fixed_app", "completion_delayed:scenario", seeds=20)
