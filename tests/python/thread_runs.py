"""Runs seeds of a real app under asgisim, each in a fresh fork, and prints one JSON line
per seed with the run's thread counts and the app's own statistics (tests of the bridge's
threads; a separate process, so that asgisim's patches never enter pytest's).

  thread_runs.py MODULE:APP MODULE:SCENARIO --seeds N [--strategy S] [--jobs J] [--stats MODULE:FN]
"""

import argparse
import json
import sys

from asgisim import forking, threads
from asgisim.session import Target
from asgisim.spec import load_object, load_scenario


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app")
    parser.add_argument("scenario")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--stats")
    args = parser.parse_args()
    threads.install()
    target = Target(args.app, args.scenario, load_object(args.app, "--app"), load_scenario(args.scenario),
                    strategy=args.strategy)
    target.check()
    stats = load_object(args.stats, "--stats") if args.stats else None

    def run(seed: int):
        result = target.run_seed(seed)
        keep = {k: result[k] for k in ("failure", "failure_name", "invariant", "trace_hash", "threads_started",
                                       "threads_alive_max")}
        keep["seed"] = seed
        keep["describe"] = result["describe"][:4000]
        if stats is not None:
            keep["stats"] = stats()
        return keep

    for _, result in forking.run_many(range(args.seeds), run, args.jobs):
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
