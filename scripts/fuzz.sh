#!/usr/bin/env bash
# Builds the fuzz preset (clang-14, libFuzzer, ASan + UBSan) and runs every
# fuzz target for a bounded time, starting from its checked-in seed corpus
# (fuzz/corpus/<target without the fuzz_ prefix>/). New inputs go to a
# scratch corpus in the build tree, crash files to build/fuzz/artifacts/;
# replay one with any build:  build/dev/fuzz/fuzz_<name>_replay CRASH_FILE
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
for target in "${targets[@]}"; do
  seed_corpus="fuzz/corpus/${target#fuzz_}"
  work_corpus="$dir/corpus/${target#fuzz_}"
  mkdir -p "$work_corpus"
  section "fuzz $target for ${seconds}s"
  corpora=("$work_corpus")
  [[ -d "$seed_corpus" ]] && corpora+=("$seed_corpus")
  # -max_total_time bounds the run; a finding exits non-zero and fails the script.
  "$dir/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/$target-" "${corpora[@]}"
done
