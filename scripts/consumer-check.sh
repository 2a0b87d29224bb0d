#!/usr/bin/env bash
# The packaging checks, as CI runs them (stage of scripts/test.sh):
#   1. install the dev build to a temporary prefix (reuses its objects);
#   2. the installed package exports no warning flags and no -Werror
#      (consumers compile with their own);
#   3. configure and build examples/consumer, an outside project that only
#      calls find_package(asgisim), against that prefix, with no -Werror of
#      its own, and run its tests: its own program finds, replays, shrinks and
#      traces its scenario (docs/writing-a-scenario.md);
#   4. the installed `asgisim` runs from the prefix's bin/ on PATH;
#   5. (--plain-release) a plain `-DCMAKE_BUILD_TYPE=Release` build (NDEBUG,
#      no preset) of the libraries and the asgisim program, warnings as
#      errors, so a warning that appears only once asserts vanish fails here.
#
# Usage: bash scripts/consumer-check.sh [--plain-release]
# Environment: ASGISIM_JOBS, ASGISIM_BUILD_PREFIX (scripts/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

plain_release=0
while (($#)); do
  case "$1" in
    --plain-release) plain_release=1 ;;
    *) echo "usage: $0 [--plain-release]" >&2; exit 2 ;;
  esac
  shift
done

dev_dir=$(build_dir dev)
work=$(mktemp -d "${TMPDIR:-/tmp}/asgisim-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

section "install $dev_dir to a temporary prefix"
cmake --install "$dev_dir" --prefix "$prefix" >/dev/null

section "the installed package exports no warning flags"
if grep -nE -- '-W(error|all|extra|pedantic)' "$prefix"/lib*/cmake/asgisim/*.cmake; then
  echo "error: the installed package passes warning flags to its consumers (above)" >&2
  exit 1
fi

section "a bare consumer: find_package(asgisim) and nothing else"
# No other find_package before or after it (GTest would find Threads and hide
# a missing find_dependency); the built-in catalogue must be there.
mkdir -p "$work/bare"
cat >"$work/bare/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(bare LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(asgisim REQUIRED)
add_executable(bare main.cpp)
target_link_libraries(bare PRIVATE asgisim::cli)
CMAKE
cat >"$work/bare/main.cpp" <<'CPP'
#include "asgisim/cli.hpp"
#include "asgisim/scenarios/catalogue.hpp"
int main(int argc, char** argv) {
  return asgisim::cli::main(argc, argv, asgisim::scenarios::built_in_catalogue());
}
CPP
cmake -S "$work/bare" -B "$work/bare/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$work/bare/build"
"$work/bare/build/bare" list | grep -q '^background-cancelled ' ||
  { echo "error: the built-in catalogue is missing from a consumer's program" >&2; exit 1; }

section "examples/consumer against the installed package"
cmake -S examples/consumer -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Debug
cmake --build "$work/consumer" --parallel "$ASGISIM_JOBS"
ctest --test-dir "$work/consumer" --output-on-failure -j "$ASGISIM_JOBS"

section "the installed asgisim on PATH"
PATH="$prefix/bin:$PATH" asgisim list >/dev/null

if ((plain_release)); then
  release_dir=$(build_dir plain-release)
  section "plain Release build (NDEBUG, no preset) in $release_dir"
  cmake -S . -B "$release_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASGISIM_WARNINGS_AS_ERRORS=ON \
    -DASGISIM_BUILD_TESTS=OFF -DASGISIM_BUILD_BENCHMARKS=OFF
  cmake --build "$release_dir" --parallel "$ASGISIM_JOBS" --target asgisim
  "$release_dir/scenarios/cli/asgisim" catalogue --fixed-seeds 200 >/dev/null
fi
echo "packaging checks passed"
