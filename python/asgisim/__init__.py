"""asgisim: deterministic simulation testing of real Python ASGI apps.

Write a scenario (which requests reach the app, and which of their parts vary) and
run it with ``python3 -m asgisim run --app pkg.mod:app --scenario pkg.mod:fn``.
"""

from pkgutil import extend_path

# The native half (asgisim/_native*.so) is built into the build tree's python/asgisim:
# both directories on PYTHONPATH make one package.
__path__ = extend_path(__path__, __name__)

from .scenario import DEFAULT_INVARIANTS, NEVER, PROTOCOL_IDS, Disconnect, Request, Scenario

__all__ = ["DEFAULT_INVARIANTS", "NEVER", "PROTOCOL_IDS", "Disconnect", "Request", "Scenario"]
