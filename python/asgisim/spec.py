"""Loading ``pkg.mod:attr`` specs for --app and --scenario, with one-line errors."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any


class UsageError(Exception):
    """Bad input from the user: printed on one line, exit 2."""


def _import(module_name: str, flag: str, spec: str) -> Any:
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    from . import threads
    threads.install()  # before the app's import: the locks it makes are asgisim's too
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise UsageError(f"{flag} {spec}: cannot import module {module_name!r}: {error}") from None
        raise UsageError(f"{flag} {spec}: importing {module_name!r} failed: "
                         f"{type(error).__name__}: {error}") from None
    except BaseException as error:  # the app's own code raised at import
        raise UsageError(f"{flag} {spec}: importing {module_name!r} raised "
                         f"{type(error).__name__}: {error}") from None


def load_object(spec: str, flag: str) -> Any:
    """The callable ``spec`` ("package.module:attribute") names."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UsageError(f"{flag} {spec}: expected MODULE:ATTRIBUTE, e.g. myapp.main:app")
    module = _import(module_name, flag, spec)
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise UsageError(f"{flag} {spec}: module {module_name!r} has no attribute {attribute!r}")
        value = getattr(value, part)
    if not callable(value):
        raise UsageError(f"{flag} {spec}: {attribute!r} is a {type(value).__name__}, not callable")
    return value


def load_scenario(spec: str) -> Any:
    """A scenario function, from ``pkg.mod:fn`` or a JSON data file."""
    if spec.endswith(".json") and ":" not in spec:
        from .scenario import load_data_file
        try:
            return load_data_file(spec)
        except (OSError, ValueError, TypeError) as error:
            raise UsageError(f"--scenario {spec}: {type(error).__name__}: {error}") from None
    return load_object(spec, "--scenario")
