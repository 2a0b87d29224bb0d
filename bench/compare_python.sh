#!/usr/bin/env bash
# asgisim side by side with the real Python stack, in one invocation:
#   1. requests/s of ServerErrorMiddleware -> BaseHTTPMiddleware (pass-through) ->
#      Router -> async endpoint with PlainTextResponse + BackgroundTask(sleep 0):
#      Debian's Starlette 0.26.1 driven at raw ASGI level (bench/starlette_bench.py,
#      no sockets) against asgisim's BM_FullStackRequest/no_break (0.26.1's
#      behaviour; trace hash on and no records kept, as a sweep runs a seed),
#      both per CPU second, and the ratio;
#   2. time to find encode/starlette#1438: asgisim's BM_FirstFailure_1438 (buggy
#      background-cancelled, median over 100 sweeps) against a Hypothesis property
#      over raw ASGI on Starlette 0.20.4 from the mirror (median over R runs), and
#      the ratio. Without the mirror this part says so and is skipped.
# Each part ends with one line `ratio N.Nx  <what>` (how many times faster
# asgisim is), for a script to read.
#
#   bash bench/compare_python.sh [--build build/release] [--requests 20000] [--runs 20]
#
# Build first: cmake --preset release && cmake --build --preset release --target asgisim-bench
# Installs python3-starlette, python3-anyio and python3-hypothesis if missing.
# Figures are CPU time (both sides), so that a loaded machine disturbs them less.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/release
requests=20000
runs=20
while (($#)); do
  case "$1" in
    --build) build=$2; shift ;;
    --requests) requests=$2; shift ;;
    --runs) runs=$2; shift ;;
    *) echo "usage: $0 [--build DIR] [--requests N] [--runs R]" >&2; exit 2 ;;
  esac
  shift
done

python=/usr/bin/python3  # Debian's interpreter: the first python3 on PATH may lack its packages
bench="$build/bench/asgisim-bench"
mirror=${STARLETTE_MIRROR:-}  # a clone of encode/starlette

install_missing() {
  local missing=() package status
  for package in python3-starlette python3-anyio python3-hypothesis; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "compare: installing ${missing[*]}"
  local as_root=()
  [[ $(id -u) -eq 0 ]] || as_root=(sudo)
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# One field of one benchmark in the JSON output of the asgisim run below.
bench_value() {  # name field
  "$python" -c 'import json,sys; b={x["name"]: x for x in json.load(open(sys.argv[1]))["benchmarks"]}; print(b[sys.argv[2]][sys.argv[3]])' \
    "$results" "$1" "$2"
}

# key=value from a starlette_bench.py line.
field() {  # line key
  sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"
}

ratio() {  # a b -> a/b
  "$python" -c "print(f'{$1 / $2:.1f}')"
}

[[ -x "$bench" ]] || { echo "compare: $bench not built (see the header of $0)" >&2; exit 1; }
install_missing
results=$(mktemp)
tree=$(mktemp -d)
trap 'rm -rf "$results" "$tree"' EXIT
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== 1. requests/s, full stack (CPU time)"
"$bench" --benchmark_filter='^(BM_FullStackRequest/no_break|BM_FirstFailure_1438)' \
  --benchmark_format=json >"$results" 2>/dev/null
py_line=$("$python" bench/starlette_bench.py requests --count "$requests")
echo "python:  $py_line"
py_rate=$(field "$py_line" requests_per_cpu_s)
sim_rate=$(bench_value BM_FullStackRequest/no_break items_per_second)
echo "asgisim: BM_FullStackRequest/no_break items_per_second=$(printf '%.0f' "$sim_rate")"
echo "requests/s: asgisim $(printf '%.0f' "$sim_rate"), Starlette $py_rate (target: ratio >= 100x)"
echo "ratio $(ratio "$sim_rate" "$py_rate")x  requests per CPU second, asgisim / Starlette 0.26.1"

echo "== 2. time to find #1438 (CPU time, median)"
sim_us=$(bench_value BM_FirstFailure_1438/sweeps:100/iterations:1 median_cpu_us_to_failure)
sim_seeds=$(bench_value BM_FirstFailure_1438/sweeps:100/iterations:1 median_seeds_to_failure)
echo "asgisim: background-cancelled buggy, median over 100 sweeps: $(printf '%.1f' "$sim_us") us, $sim_seeds seeds"
if [[ -n "$mirror" && -d "$mirror" ]]; then
  git -C "$mirror" archive 0.20.4 starlette | tar -x -C "$tree"
  hy_line=$(PYTHONPATH="$tree" "$python" bench/starlette_bench.py find-1438 --runs "$runs")
  echo "python:  $hy_line"
  hy_ms=$(field "$hy_line" median_cpu_ms_to_failure)
  echo "time to first failure: asgisim $(printf '%.1f' "$sim_us") us, Hypothesis on Starlette 0.20.4 $hy_ms ms"
  echo "ratio $(ratio "$hy_ms * 1000" "$sim_us")x  CPU time to the first failure of #1438, Hypothesis / asgisim"
else
  echo "python:  skipped: no STARLETTE_MIRROR (a clone of encode/starlette) to take the 0.20.4 tree from" \
       "(Debian has only 0.26.1, which does not have the bug)"
  echo "ratio n/a  CPU time to the first failure of #1438 (no STARLETTE_MIRROR)"
fi
