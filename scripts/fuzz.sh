#!/usr/bin/env bash
# Builds the fuzz preset (clang-14, libFuzzer, ASan + UBSan) and runs every
# fuzz target for a bounded time, starting from its checked-in seed corpus
# (fuzz/corpus/<name>/, <name> being the target without its fuzz_ prefix)
# and, when they exist, its dictionary (fuzz/<name>.dict) and extra libFuzzer
# flags (fuzz/<name>.options, one per line). New inputs go to a scratch
# corpus in the build tree, crash files and logs to <build>/artifacts/; replay
# a crash with any build:  build/dev/fuzz/fuzz_<name>_replay CRASH_FILE
# (docs/fuzzing.md says more).
#
# A target whose name ends in _canary holds a deliberately planted bug: it
# passes when the fuzzer finds a crash within the time, and fails when it
# does not. Every other target fails on any crash, leak or sanitizer report.
# The end prints one line per target: result, seconds, runs and exec/s.
#
# Options: --seconds N (per target, default 60), --target NAME (repeatable).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

seconds=60
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --target) targets+=("$2"); shift ;;
    *) echo "usage: $0 [--seconds N] [--target fuzz_NAME]..." >&2; exit 2 ;;
  esac
  shift
done

bash scripts/setup.sh
configure_and_build fuzz
dir=$(build_dir fuzz)
if ((${#targets[@]} == 0)); then
  # Every libFuzzer binary the preset built: fuzz/fuzz_* without _replay.
  for binary in "$dir"/fuzz/fuzz_*; do
    [[ -x "$binary" && "$binary" != *_replay ]] && targets+=("$(basename "$binary")")
  done
fi

mkdir -p "$dir/artifacts"
# fuzz_stack writes the decision log of a finding here (see docs/fuzzing.md).
export ASGISIM_FUZZ_FINDINGS="$dir/artifacts"
summary=()
failed=0
for target in "${targets[@]}"; do
  name=${target#fuzz_}
  seed_corpus="fuzz/corpus/$name"
  work_corpus="$dir/corpus/$name"
  log="$dir/artifacts/$target.log"
  mkdir -p "$work_corpus"
  section "fuzz $target for ${seconds}s"
  corpora=("$work_corpus")
  [[ -d "$seed_corpus" ]] && corpora+=("$seed_corpus")
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
           -artifact_prefix="$dir/artifacts/$target-")
  [[ -f "fuzz/$name.dict" ]] && options+=(-dict="fuzz/$name.dict")
  if [[ -f "fuzz/$name.options" ]]; then  # extra flags, one per line, '#' comments
    while read -r flag; do options+=("$flag"); done < <(grep -v '^[[:space:]]*\(#\|$\)' "fuzz/$name.options")
  fi
  start=$(date +%s)
  status=0
  # -max_total_time bounds the run; a finding exits non-zero.
  "$dir/fuzz/$target" "${options[@]}" "${corpora[@]}" 2>&1 | tee "$log" || status=$?
  elapsed=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [[ "$target" == *_canary ]]; then
    if ((status != 0)); then result="canary found"; else result="CANARY NOT FOUND"; failed=1; fi
  else
    if ((status == 0)); then result="clean"; else result="FINDING (exit $status)"; failed=1; fi
  fi
  summary+=("$(printf '%-24s %-22s %4ss  runs %-9s exec/s %s' "$target" "$result" "$elapsed" "${runs:-?}" "${rate:-?}")")
done

section "fuzz summary (${seconds}s per target; crash files and logs in $dir/artifacts/)"
printf '%s\n' "${summary[@]}"
exit "$failed"
