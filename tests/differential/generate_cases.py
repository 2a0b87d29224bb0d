#!/usr/bin/python3
"""Enumerates the differential grid as JSONL, one case per line, in a fixed order.

    /usr/bin/python3 tests/differential/generate_cases.py --grid small -o small.jsonl
    /usr/bin/python3 tests/differential/generate_cases.py --grid large --count
    /usr/bin/python3 tests/differential/generate_cases.py --grid regressions

small: the CI grid (25 middleware chains x 9 endpoints x every disconnect point, a
request body of two chunks, both send-after-disconnect behaviours). large: every chain
of depth <= 3 over the five middleware kinds, 23 endpoints, chunk counts 0-8, an empty
and a two-chunk body, every disconnect point, both send behaviours, plus a spec 2.4
slice. regressions: the cases of the large grid listed in regressions.txt (ones the model
once got wrong), for CI. Case ids encode the whole case (see CASE_FORMAT.md, "Case ids"), so they are
unique and stable: the same id always means the same case.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from case_format import FORMAT_VERSION, MIDDLEWARE_KINDS, validate_case  # noqa: E402

LETTER = {"base_http_passthrough": "P", "base_http_reads_body": "R", "pure_asgi_cm": "C",
          "server_error": "E", "exception": "X"}
KIND_OF_LETTER = {letter: kind for kind, letter in LETTER.items()}
RAISES_SHORT = {"never": "never", "before_start": "start", "in_stream": "stream",
                "in_background": "bg"}


def endpoint(kind: str = "async", response: str = "plain", chunks: int = 0, pause: int = 0,
             reads: str = "none", raises: str = "never",
             background: Optional[Tuple[str, int]] = None) -> Dict[str, Any]:
    return {"kind": kind, "response": response, "chunks": chunks, "chunk_pause": pause,
            "reads_body": reads, "raises": raises,
            "background": None if background is None
            else {"kind": background[0], "pauses": background[1]}}


def case_id(case: Dict[str, Any]) -> str:
    chain = ".".join(LETTER[entry["kind"]] for entry in case["stack"]["middleware"]) or "-"
    ep = case["stack"]["endpoint"]
    response = ("plain" if ep["response"] == "plain"
                else f"st{ep['chunks']}p{ep['chunk_pause']}")
    background = ep["background"]
    bg = "-" if background is None else (
        "s" if background["kind"] == "sync" else f"a{background['pauses']}")
    ep_label = (f"{ep['kind'][0]}.{response}.rb-{ep['reads_body']}"
                f".x-{RAISES_SHORT[ep['raises']]}.bg-{bg}" + (".cl" if ep.get("cleanup") else ""))
    body = ",".join(str(size) for size in case["client"]["body_chunks"]) or "-"
    server = case["server"]
    return (f"{chain}/{ep_label}/b{body}.d-{case['client']['disconnect']}"
            f"/{server['send_after_disconnect']}.{server['spec_version']}")


def chain(letters: str) -> List[Dict[str, str]]:
    return [{"kind": KIND_OF_LETTER[letter]} for letter in letters]


def max_messages(ep: Dict[str, Any]) -> int:
    """An upper bound on the messages a client can receive for this endpoint."""
    if ep["response"] == "plain":
        return 3  # start, body, and the final empty body BaseHTTPMiddleware adds
    return ep["chunks"] + 2  # start, one per chunk, the final empty body


def disconnect_points(ep: Dict[str, Any], body_chunks: Sequence[int]) -> List[str]:
    points = ["never", "before_request"]
    points += [f"mid_body:{count}" for count in range(len(body_chunks))]
    points += [f"after_send:{count}" for count in range(1, max_messages(ep) + 1)]
    return points


def make_case(middleware: List[Dict[str, str]], ep: Dict[str, Any], body: Sequence[int],
              disconnect: str, send_after_disconnect: str, spec_version: str) -> Dict[str, Any]:
    case: Dict[str, Any] = {
        "format": FORMAT_VERSION,
        "id": "",
        "stack": {"middleware": middleware, "endpoint": ep},
        "client": {"body_chunks": list(body), "disconnect": disconnect},
        "server": {"send_after_disconnect": send_after_disconnect,
                   "spec_version": spec_version},
    }
    case["id"] = case_id(case)
    return case


def _cases(chains: Sequence[str], endpoints: Sequence[Dict[str, Any]],
           bodies: Sequence[Sequence[int]], spec_versions: Sequence[str]) -> Iterator[Dict[str, Any]]:
    for letters, ep, body, spec in itertools.product(chains, endpoints, bodies, spec_versions):
        for disconnect in disconnect_points(ep, body):
            # Without a disconnect the two send behaviours cannot differ.
            behaviours = ("drop",) if disconnect == "never" else ("drop", "raise")
            for behaviour in behaviours:
                yield make_case(chain(letters), ep, body, disconnect, behaviour, spec)


SMALL_CHAINS = (
    "",
    "P", "R", "C", "E", "X",
    "PP", "PR", "PC", "RP", "RR", "RC", "CP", "CR", "CC", "EP", "PE", "XC", "CX",
    "PCP", "CPC", "PPC", "EPC", "RCP", "PRC",
)

SMALL_ENDPOINTS = (
    endpoint("async", "plain", background=("async", 1)),
    endpoint("async", "plain", reads="body", raises="before_start"),
    endpoint("async", "plain", reads="stream", raises="in_background", background=("async", 2)),
    endpoint("sync", "plain", background=("sync", 0)),
    endpoint("async", "streaming", 0, background=("async", 1)),
    endpoint("async", "streaming", 1, pause=1, reads="body"),
    endpoint("async", "streaming", 3, raises="in_stream"),
    endpoint("async", "streaming", 8, background=("async", 1)),
    endpoint("sync", "streaming", 2, background=("sync", 0)),
)


def _large_endpoints() -> List[Dict[str, Any]]:
    endpoints = [
        endpoint("async", "plain", background=("async", 1)),
        endpoint("async", "plain", reads="body", raises="before_start"),
        endpoint("async", "plain", reads="stream", raises="in_background",
                 background=("async", 2)),
        endpoint("sync", "plain", background=("sync", 0)),
        endpoint("sync", "plain", raises="before_start"),
    ]
    endpoints += [endpoint("async", "streaming", chunks, pause=chunks % 2,
                           background=("async", 1)) for chunks in range(9)]
    endpoints += [endpoint("async", "streaming", chunks, reads="body", raises="in_stream")
                  for chunks in (0, 2, 8)]
    endpoints += [endpoint("async", "streaming", 2, raises="in_background",
                           background=("async", 1))]
    endpoints += [endpoint("sync", "streaming", chunks, background=("sync", 0))
                  for chunks in (0, 1, 3, 8)]
    endpoints += [endpoint("sync", "streaming", 2, raises="in_stream")]
    return endpoints


def _all_chains(depth_max: int) -> List[str]:
    letters = [LETTER[kind] for kind in MIDDLEWARE_KINDS]
    return ["".join(combo) for depth in range(depth_max + 1)
            for combo in itertools.product(letters, repeat=depth)]


def grid(name: str) -> Iterator[Dict[str, Any]]:
    if name == "small":
        yield from _cases(SMALL_CHAINS, SMALL_ENDPOINTS, [(2, 2)], ["2.3"])
    elif name == "large":
        endpoints = _large_endpoints()
        yield from _cases(_all_chains(3), endpoints, [(), (2, 2)], ["2.3"])
        # spec_version only matters to Starlette 0.42+; a slice keeps it covered.
        yield from _cases(_all_chains(1), endpoints, [(2, 2)], ["2.4"])
    elif name == "regressions":
        wanted = _regression_ids()
        found = set()
        for case in grid("large"):
            for variant in (case, with_cleanup(case)):  # an id ending in .cl/... is the --cleanup one
                if variant["id"] in wanted and variant["id"] not in found:
                    found.add(variant["id"])
                    yield variant
        missing = sorted(set(wanted) - found)
        if missing:
            raise ValueError(f"regressions.txt names cases the large grid lacks: {missing}")
    else:
        raise ValueError(f"unknown grid {name!r}")


def with_cleanup(case: Dict[str, Any]) -> Dict[str, Any]:
    """The case with `cleanup: true` when its endpoint streams from an async iterator."""
    ep = case["stack"]["endpoint"]
    if ep["kind"] != "async" or ep["response"] != "streaming":
        return case
    case = json.loads(json.dumps(case))
    case["stack"]["endpoint"]["cleanup"] = True
    case["id"] = case_id(case)
    return case


def _regression_ids() -> List[str]:
    with open(os.path.join(HERE, "regressions.txt"), encoding="ascii") as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", choices=("small", "large", "regressions"), default="small")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    parser.add_argument("--count", action="store_true", help="print the number of cases only")
    parser.add_argument("--cleanup", action="store_true",
                        help="give every async streaming endpoint's body iterator a finally that "
                             "records stream_closed (ids gain .cl)")
    args = parser.parse_args(argv)

    seen = set()
    count = 0
    out = None if args.count else (open(args.output, "w", encoding="ascii")
                                   if args.output else sys.stdout)
    try:
        for case in grid(args.grid):
            if args.cleanup:
                case = with_cleanup(case)
            validate_case(case)
            if case["id"] in seen:
                raise AssertionError(f"duplicate case id {case['id']}")
            seen.add(case["id"])
            count += 1
            if out is not None:
                out.write(json.dumps(case, sort_keys=True, separators=(",", ":")) + "\n")
    finally:
        if out is not None and out is not sys.stdout:
            out.close()
    if args.count:
        print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
