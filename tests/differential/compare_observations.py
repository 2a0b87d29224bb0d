#!/usr/bin/python3
"""Compares two observation files (JSONL) case by case and summarises each.

    /usr/bin/python3 tests/differential/compare_observations.py A.jsonl B.jsonl [--level outcome]
    /usr/bin/python3 tests/differential/compare_observations.py --summary A.jsonl

Levels (CASE_FORMAT.md, "Comparison levels"): ``outcome`` compares app, client (its
messages without their ``at``), background and contexts; ``events`` compares those
and the whole event list. ``meta`` is
never compared. Exit status 0 when every common case agrees, 1 otherwise, 2 on bad
input (a case present in only one file counts as a disagreement).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from typing import Any, Dict, List, Optional

OUTCOME_KEYS = ("app", "client", "background", "contexts")


def load(path: str) -> Dict[str, Dict[str, Any]]:
    observations: Dict[str, Dict[str, Any]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                observation = json.loads(line)
                observations[observation["id"]] = observation
    return observations


def projection(observation: Dict[str, Any], level: str) -> Dict[str, Any]:
    if "error" in observation:
        return {"error": observation["error"]}
    if level == "events":
        return {key: observation[key] for key in OUTCOME_KEYS + ("events",)}
    projected = {key: observation[key] for key in OUTCOME_KEYS}
    client = dict(projected["client"])  # "at" (an event index) belongs to the events level
    client["messages"] = [{key: value for key, value in message.items() if key != "at"}
                          for message in client["messages"]]
    projected["client"] = client
    return projected


def short(observation: Dict[str, Any]) -> str:
    """One line: app outcome, status, completeness, background end, context exits."""
    if "error" in observation:
        return "ERROR " + observation["error"]
    app = observation["app"]
    outcome = app["outcome"] + (f"({app['exception']})" if app["exception"] else "") + (
        f"({app['hung_reason']})" if app["hung_reason"] else "")
    client = observation["client"]
    parts = [outcome, f"status={client['status']}",
             "complete" if client["complete"] else "incomplete"]
    if client["connection_closed"]:
        parts.append("closed=" + client["connection_closed"])
    if observation["background"] is not None:
        parts.append("bg=" + observation["background"]["end"])
    for context in observation["contexts"]:
        parts.append(f"cm{context['mw']}={context['exit']}")
    return " ".join(parts)


def summary(observations: Dict[str, Dict[str, Any]]) -> List[str]:
    counters: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for observation in observations.values():
        if "error" in observation:
            counters["error"]["error"] += 1
            continue
        app = observation["app"]
        counters["app"][app["outcome"]] += 1
        if app["exception"]:
            counters["app exception"][app["exception"]] += 1
        if observation["background"] is not None:
            counters["background"][observation["background"]["end"]] += 1
        for context in observation["contexts"]:
            counters["context exit"][context["exit"]] += 1
        client = observation["client"]
        counters["client"]["complete" if client["complete"] else "incomplete"] += 1
    lines = [f"cases: {len(observations)}"]
    for name, counter in counters.items():
        lines.append(f"{name}: " + ", ".join(f"{key} {value}"
                                             for key, value in sorted(counter.items())))
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--level", choices=("outcome", "events"), default="events")
    parser.add_argument("--summary", action="store_true", help="summarise each file only")
    parser.add_argument("--show", type=int, default=10, help="differing cases to print")
    args = parser.parse_args(argv)
    if args.summary:
        for path in args.files:
            print(f"== {path}")
            print("\n".join(summary(load(path))))
        return 0
    if len(args.files) != 2:
        parser.error("give two files to compare (or --summary)")
    left, right = load(args.files[0]), load(args.files[1])
    only = sorted(set(left) ^ set(right))
    differing = [case_id for case_id in left if case_id in right
                 and projection(left[case_id], args.level)
                 != projection(right[case_id], args.level)]
    print(f"common cases: {len(set(left) & set(right))}, only in one file: {len(only)}, "
          f"differing at level {args.level}: {len(differing)}")
    for case_id in differing[:args.show]:
        print(f"  {case_id}\n    A: {short(left[case_id])}\n    B: {short(right[case_id])}")
    return 0 if not differing and not only else 1


if __name__ == "__main__":
    sys.exit(main())
