#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this script):
# installs what is missing, then
#   0. format check: every C++ file matches .clang-format (clang-format-14);
#   1. dev preset (gcc, Debug): build everything, run every test except the
#      label `slow` (the 10,000-seed sweeps and the large differential grid,
#      run on demand: ctest --preset dev -L slow);
#   1b. packaging (scripts/consumer-check.sh): install the dev build, build
#      and test examples/consumer against it, and one plain
#      -DCMAKE_BUILD_TYPE=Release build of the libraries and asgisim;
#   2. asan preset (gcc, ASan + UBSan): build, run every test except `slow`;
#   3. fuzz preset (clang-14, libFuzzer + ASan + UBSan): build, then fuzz every
#      target for a bounded time (60 s each by default: 5 targets and the two
#      canaries, which stop at their finding, take about 6 minutes) through
#      scripts/fuzz.sh, which fails on
#      any finding in a real target and on a canary that is not found.
# Budget: the whole of .ci/run must stay under 40 minutes on 2 cores.
#
# Options:
#   --no-asan          skip stage 2
#   --no-fuzz          skip stage 3
#   --fuzz-seconds N   time per fuzz target in stage 3 (default 60; keep
#                      targets x N under 8 minutes)
# Environment: ASGISIM_JOBS, ASGISIM_BUILD_PREFIX (see scripts/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

run_asan=1
run_fuzz=1
fuzz_seconds=60
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

# 0. Formatting: every C++ file as .clang-format says (seconds).
section "format check (clang-format-14)"
bash scripts/check-format.sh

# 1. Everything, on the dev build. The browser tests leave a screenshot of
# each kind of HTML report where CI keeps it as an artifact
# (docs/reading-a-failure.md); said at the end of the stage, passed or not.
configure_and_build dev
screenshots="$(build_dir dev)/artifacts/screenshots"
rm -rf "$screenshots"  # none left from an earlier run
say_screenshots() {
  if compgen -G "$screenshots/*.png" >/dev/null; then
    echo "HTML report screenshots (browser tests): $screenshots/"
    ls -l "$screenshots"
  else
    echo "HTML report screenshots: none in $screenshots/ (no chromium: the browser tests skipped)"
  fi
}
run_tests dev --label-exclude slow || { status=$?; say_screenshots; exit "$status"; }
say_screenshots

# 1b. Packaging: an outside project against the installed dev build, and a
# plain Release build (NDEBUG, no preset).
bash scripts/consumer-check.sh --plain-release

# 2. Sanitizers: the asan test preset excludes `slow` (CMakePresets.json).
if ((run_asan)); then
  configure_and_build asan
  run_tests asan
fi

# 3. Bounded fuzzing with clang-14.
if ((run_fuzz)); then
  bash scripts/fuzz.sh --seconds "$fuzz_seconds"
fi
