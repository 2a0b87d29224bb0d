"""Stopping a long sweep from outside, and its time budget, as the C++ CLI does.

SIGINT and SIGTERM (what a CI job's timeout sends) only set flags: the sweep starts no
new seed, the forked runs in flight get ``GRACE_S`` seconds to finish, then they are
killed (at once on a second signal), and the command writes everything a finished
sweep writes. ``--duration`` is a deadline after which no seed starts; the runs in
flight finish.

    control = SweepControl(duration_s=300)
    with control.handling_signals():
        for seed, result in forking.run_many(seeds, work, jobs, control):
            ...
    exit_code = 128 + control.signal if control.signal else 0

Everything here is the parent's, outside any run: the wall clock only decides which
seeds start, never what a seed does.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from typing import Iterator, Optional

from .spec import UsageError

# How long the runs in flight may take to finish after SIGINT or SIGTERM before they
# are killed: CI runners send SIGKILL a few seconds after their first signal (GitHub
# Actions 7.5 s after SIGINT), and the reports still have to be written.
GRACE_S = 2.0

_SECONDS_MAX = 30 * 24 * 3600
_DURATION_PART = re.compile(r"([0-9]{1,9})([smh]?)")


def parse_duration(text: str) -> float:
    """'300', '90s', '5m', '2h', '1h30m': seconds of wall-clock time, at most 30 days."""
    bad = UsageError(f"bad --duration '{text}': expected a duration such as 300 (seconds), 90s, 5m, 2h "
                     "or 1h30m, up to 30 days")
    seconds, position = 0, 0
    if not text:
        raise bad
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None:
            raise bad
        value, unit = int(match.group(1)), match.group(2)
        if not unit and seconds != 0:
            raise bad  # "1h30": the last number needs its unit
        seconds += value * {"": 1, "s": 1, "m": 60, "h": 3600}[unit]
        position = match.end()
        if seconds > _SECONDS_MAX:
            raise bad
    if seconds == 0:
        raise bad
    return float(seconds)


def duration_text(seconds: float) -> str:
    whole = int(seconds)
    if whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"


def signal_name(number: int) -> str:
    return {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}.get(number, "a signal")


def _now() -> float:
    return time.monotonic()  # nondeterminism-ok: --duration and the grace period, in the parent, outside any run


class SweepControl:
    """Whether the next seed may start and whether the runs in flight must be abandoned."""

    def __init__(self, duration_s: Optional[float] = None, grace_s: float = GRACE_S):
        self.signal = 0  # the first SIGINT or SIGTERM received, or 0
        self.grace_s = grace_s
        self.runs_abandoned = 0
        self._deadline = None if duration_s is None else _now() + duration_s
        self._stopped_at = 0.0
        self._second_signal = False

    def _on_signal(self, number: int, frame) -> None:
        if self.signal == 0:
            self.signal = number
            self._stopped_at = _now()
            os.write(2, b"\nasgisim: interrupted: no new seeds; the runs in flight get a moment to finish "
                        b"(a second signal abandons them), then the reports are written\n")
            return
        self._second_signal = True
        os.write(2, b"\nasgisim: second signal: abandoning the runs in flight\n")

    @contextlib.contextmanager
    def handling_signals(self) -> Iterator["SweepControl"]:
        previous = {number: signal.signal(number, self._on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def past_deadline(self) -> bool:
        return self._deadline is not None and _now() >= self._deadline

    def may_start(self) -> bool:
        return self.signal == 0 and not self.past_deadline()

    def abandon(self) -> bool:
        return self._second_signal or (self.signal != 0 and _now() - self._stopped_at >= self.grace_s)

    def end(self, completed: bool) -> str:
        """completed, deadline or interrupted (the JSON line's ``end``)."""
        if completed:
            return "completed"
        return "interrupted" if self.signal else "deadline" if self._deadline is not None else "completed"


def ignore_in_child() -> None:
    """A forked run ignores SIGINT and SIGTERM: a Ctrl-C reaches the whole process group, and
    the parent decides whether the run finishes or is killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
