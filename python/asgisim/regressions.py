"""``--regressions DIR`` for real apps, as the C++ CLI's (docs/replay-and-shrink.md).

Each failing run's decision log is kept in ``DIR/<app>/<scenario>/<hash>.decisions``
(``:`` in a spec becomes ``-``; the name is a hash of the log's text, so a failure is
stored once). The next sweep with the same directory replays every stored log of that
app and scenario, leniently and each in a fresh fork, **before** its seeds: a log
recorded before the code changed still gives a run, and when that run consumed other
decisions than the stored ones, its own log (which replays strictly) is stored too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from . import forking, reports
from .spec import UsageError

EXTENSION = ".decisions"


def _component(spec: str) -> str:
    """A spec as one portable path component (no ':' for CI artifact uploads)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", spec.replace(":", "-")) or "_"


def content_hash(text: str) -> str:
    """FNV-1a of the text, as the C++ CLI names its files (not for security)."""
    value = 0xCBF29CE484222325
    for byte in text.encode():
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def decision_lines(log_text: str) -> List[str]:
    """The decisions of a log, without its header (the header names the seed and settings)."""
    lines = log_text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("decisions "):
            return [x for x in lines[index + 1:] if x != "end"]
    return []


@dataclass
class Replayed:
    """What replaying the store found, before the sweep's own seeds."""
    replayed: int = 0
    failed: int = 0
    first: Optional[Dict[str, Any]] = None  # the first failing stored log's result, with "schedule"
    saved: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)


class Store:
    def __init__(self, root: str) -> None:
        self.root = root

    def check(self, option: str) -> None:
        """Before a sweep: the directory exists or can be made, and accepts files."""
        try:
            os.makedirs(self.root, exist_ok=True)
        except OSError as error:
            raise UsageError(f"{option} {self.root}: cannot create it: {error.strerror}") from None
        if not os.access(self.root, os.W_OK):
            raise UsageError(f"{option} {self.root}: not writable")

    def directory(self, target) -> str:
        return os.path.join(self.root, _component(target.app_spec), _component(target.scenario_spec))

    def load(self, target, problems: List[str]) -> List[Tuple[str, str]]:
        """(path, text) of each stored log, in name order; a corrupt file is set aside as .corrupt."""
        from .session import native
        directory = self.directory(target)
        if not os.path.isdir(directory):
            return []
        stored = []
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if not name.endswith(EXTENSION) or not os.path.isfile(path):
                continue
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                native().log_metadata(text, path)
            except (OSError, UnicodeDecodeError, native().UsageError) as error:
                try:
                    os.replace(path, path + ".corrupt")
                    problems.append(f"corrupt regression file set aside as '{path}.corrupt': {error}")
                except OSError as rename_error:
                    problems.append(f"corrupt regression file left in place (cannot rename it: "
                                    f"{rename_error.strerror}): {error}")
                continue
            stored.append((path, text))
        return stored

    def save(self, target, result: Dict[str, Any]) -> str:
        """Keeps a failing run's decision log (once per distinct text); returns its path. Raises OSError."""
        text = result["decisions"]
        directory = self.directory(target)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, content_hash(text) + EXTENSION)
        if not os.path.exists(path):
            reports.write_atomically(path, text)
        return path


def replay_stored(store: Store, target, jobs: int = 1, control=None) -> Replayed:
    """Every stored log of the target, leniently, each in a fresh fork."""
    found = Replayed()
    entries = store.load(target, found.problems)
    runs = forking.run_many(entries, lambda entry: target.replay(entry[1], entry[0], strict=False), jobs, control)
    try:
        for (path, text), result in runs:
            found.replayed += 1
            if "crashed" in result:
                found.problems.append(f"replaying the regression {path} {result['crashed']}")
                continue
            if not result["failure"]:
                continue
            found.failed += 1
            schedule = path
            if decision_lines(result["decisions"]) != decision_lines(text):
                try:
                    schedule = store.save(target, result)
                    found.saved.append(schedule)
                except OSError as error:
                    found.problems.append(f"cannot keep a regression in {store.root}: {error.strerror}")
            if found.first is None:
                found.first = dict(result, schedule=schedule)
    finally:
        runs.close()
    return found


def keep(store: Optional[Store], target, result: Dict[str, Any], problems: List[str]) -> Optional[str]:
    """Stores a failing seed's log; a file that cannot be written is a problem, not the end of the sweep."""
    if store is None:
        return None
    try:
        return store.save(target, result)
    except OSError as error:
        problems.append(f"cannot keep a regression in {store.root}: {error.strerror}")
        return None
