#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this script):
# installs what is missing, then
#   1. dev preset (gcc, Debug): build everything, run every test (all labels);
#   2. asan preset (gcc, ASan + UBSan): run labels unit|sim|property except slow;
#   3. fuzz preset (clang-14, libFuzzer + ASan + UBSan): build, then fuzz each
#      target for a bounded time (30 s each by default).
# Budget: the whole of .ci/run must stay under 40 minutes on 2 cores.
#
# Options:
#   --no-asan          skip stage 2
#   --no-fuzz          skip stage 3
#   --fuzz-seconds N   time per fuzz target in stage 3 (default 30)
# Environment: ASGISIM_JOBS, ASGISIM_BUILD_PREFIX (see scripts/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

run_asan=1
run_fuzz=1
fuzz_seconds=30
while (($#)); do
  case "$1" in
    --no-asan) run_asan=0 ;;
    --no-fuzz) run_fuzz=0 ;;
    --fuzz-seconds) fuzz_seconds=$2; shift ;;
    *) echo "usage: $0 [--no-asan] [--no-fuzz] [--fuzz-seconds N]" >&2; exit 2 ;;
  esac
  shift
done

bash scripts/setup.sh

# 1. Everything, on the dev build.
configure_and_build dev
run_tests dev

# 2. Sanitizers. TODO(asan): widen to every label except `slow` (the asan
# test preset's filter) once the differential and fuzz-corpus tests are clean
# under ASan; the filter lives in CMakePresets.json, testPresets "asan".
if ((run_asan)); then
  configure_and_build asan
  run_tests asan
fi

# 3. Bounded fuzzing with clang-14.
if ((run_fuzz)); then
  bash scripts/fuzz.sh --seconds "$fuzz_seconds"
fi
