#!/usr/bin/env bash
# Resident memory of a time-boxed sweep over time: starts
#   asgisim run SCENARIO --duration DURATION --jobs JOBS [extra options]
# and samples VmRSS from /proc/PID/status every INTERVAL seconds, printing
# "seconds rss_kb" lines and, at the end, the growth after warm-up (the first
# tenth of the samples). The sweep streams its seeds, so the figure should be
# flat: a 1-hour run is the same script with --duration 1h.
#
#   bench/sweep_rss.sh build/release/scenarios/cli/asgisim 5m          # all, fixed, --jobs 1
#   SCENARIO=background-cancelled CONFIG=buggy JOBS=2 INTERVAL=10 bench/sweep_rss.sh ASGISIM 1h --regressions r
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 ASGISIM DURATION [extra asgisim run options]" >&2
  exit 2
fi
asgisim=$1
duration=$2
shift 2
scenario=${SCENARIO:-all}
config=${CONFIG:-fixed}
jobs=${JOBS:-1}
interval=${INTERVAL:-5}

"$asgisim" run "$scenario" --config "$config" --duration "$duration" --jobs "$jobs" --json "$@" \
  > "${OUT:-/dev/null}" 2> >(grep -v 'seeds/s' >&2 || true) &
pid=$!
start=$(date +%s)
samples=()
echo "# seconds rss_kb  (asgisim run $scenario --config $config --duration $duration --jobs $jobs $*)"
while kill -0 "$pid" 2> /dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)
  if [[ -n "$rss" ]]; then
    now=$(($(date +%s) - start))
    echo "$now $rss"
    samples+=("$rss")
  fi
  sleep "$interval"
done
status=0
wait "$pid" || status=$?
count=${#samples[@]}
if ((count >= 2)); then
  warm=$((count / 10))
  first=${samples[$warm]}
  last=${samples[$((count - 1))]}
  max=$(printf '%s\n' "${samples[@]:$warm}" | sort -n | tail -1)
  echo "# after warm-up (sample $warm of $count): first ${first} kB, last ${last} kB, max ${max} kB," \
    "growth $((last - first)) kB; asgisim exit $status"
fi
