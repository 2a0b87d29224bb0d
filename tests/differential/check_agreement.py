#!/usr/bin/python3
"""Checks the model's observations against the real side's, case by case, at both levels.

    /usr/bin/python3 tests/differential/check_agreement.py REAL.jsonl MODEL.jsonl \
        [--accepted accepted/0.26.1.txt] [--show 5]

A case the two sides disagree on fails the check unless the accepted list names it at
that level. The accepted list holds one line per case: ``LEVEL CASE_ID  # CLASS``, where
LEVEL is ``events`` (the model's interleaving differs, the outcome agrees) or ``outcome``;
an outcome entry covers the events level too. Each CLASS is explained in
docs/fidelity.md ("Known, accepted differences"). Entries that now agree are reported
(stale) but do not fail the check; entries for cases the files do not hold (the
other grid's) are ignored. Prints the agreement per level as
``level: N/M agree (P%)`` and ends with ``N passed, N failed``. Exit status 0 when every
disagreement is accepted, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from typing import Dict, List, Optional, Set

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from compare_observations import load, projection, short  # noqa: E402

LEVELS = ("outcome", "events")


def load_accepted(path: Optional[str]) -> Dict[str, Dict[str, str]]:
    """{level: {case id: class}}; outcome entries also count at the events level."""
    accepted: Dict[str, Dict[str, str]] = {level: {} for level in LEVELS}
    if not path:
        return accepted
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            text = line.split("#", 1)
            body, why = text[0].strip(), (text[1].strip() if len(text) > 1 else "")
            if not body:
                continue
            parts = body.split()
            if len(parts) != 2 or parts[0] not in LEVELS:
                raise SystemExit(f"{path}:{number}: expected 'LEVEL CASE_ID  # CLASS'")
            level, case_id = parts
            accepted[level][case_id] = why
            if level == "outcome":
                accepted["events"][case_id] = why
    return accepted


def first_difference(real: Dict, model: Dict) -> str:
    if "error" in real or "error" in model:
        return ""
    left, right = real["events"], model["events"]
    index = 0
    while index < min(len(left), len(right)) and left[index] == right[index]:
        index += 1
    def name(events: List[Dict], at: int) -> str:
        return events[at]["ev"] if at < len(events) else "(end)"
    return f"first differing event #{index}: real {name(left, index)}, model {name(right, index)}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("real")
    parser.add_argument("model")
    parser.add_argument("--accepted", help="the accepted-differences list of this version")
    parser.add_argument("--show", type=int, default=5, help="failing cases to print per level")
    args = parser.parse_args(argv)
    real, model = load(args.real), load(args.model)
    accepted = load_accepted(args.accepted)
    if set(real) != set(model):
        print(f"the files hold different cases: {len(set(real) ^ set(model))} in one only")
        return 2
    passed = failed = 0
    for level in LEVELS:
        differing = [case_id for case_id in real
                     if projection(real[case_id], level) != projection(model[case_id], level)]
        unexpected = [case_id for case_id in differing if case_id not in accepted[level]]
        stale = sorted((set(accepted[level]) & set(real)) - set(differing))
        agree = len(real) - len(differing)
        print(f"{level}: {agree}/{len(real)} agree ({100.0 * agree / len(real):.2f}%), "
              f"{len(differing) - len(unexpected)} accepted, {len(unexpected)} not accepted, "
              f"{len(stale)} accepted entries now agree")
        classes = collections.Counter(accepted[level][case_id] for case_id in differing
                                      if case_id in accepted[level])
        for why, count in sorted(classes.items()):
            print(f"  accepted {count}: {why}")
        for case_id in unexpected[:args.show]:
            print(f"  FAIL {case_id}\n    real:  {short(real[case_id])}\n"
                  f"    model: {short(model[case_id])}\n    {first_difference(real[case_id], model[case_id])}")
        if unexpected:
            failed += 1
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
