# Shared by the scripts in this folder (sourced, not run). Each build goes to
# build/<preset>, the preset's own binary directory, unless
# ASGISIM_BUILD_PREFIX is set: then to <prefix><preset> (e.g.
# ASGISIM_BUILD_PREFIX=build/mine- keeps a second set of build trees).
# ASGISIM_JOBS caps parallel compile and test jobs (default: nproc).

ASGISIM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ASGISIM_JOBS=${ASGISIM_JOBS:-$(nproc 2>/dev/null || echo 2)}

# build_dir PRESET: the binary directory the scripts use for PRESET.
build_dir() {
  if [[ -n "${ASGISIM_BUILD_PREFIX:-}" ]]; then
    echo "${ASGISIM_BUILD_PREFIX}$1"
  else
    echo "build/$1"
  fi
}

# section TEXT: a visible heading in long CI logs.
section() {
  echo
  echo "==== $* ===="
}

# configure_and_build PRESET [TARGET...]: configures with the preset (into
# build_dir) and builds the targets (all when none is given).
configure_and_build() {
  local preset=$1
  shift
  local dir
  dir=$(build_dir "$preset")
  section "configure + build: preset $preset in $dir"
  cmake --preset "$preset" -B "$dir"
  local targets=()
  for target in "$@"; do targets+=(--target "$target"); done
  cmake --build "$dir" --parallel "$ASGISIM_JOBS" "${targets[@]}"
}

# run_tests PRESET [CTEST-ARG...]: runs ctest with the test preset of the
# same name on build_dir(PRESET).
run_tests() {
  local preset=$1
  shift
  local dir
  dir=$(build_dir "$preset")
  section "ctest --preset $preset $* ($dir)"
  ctest --preset "$preset" --test-dir "$dir" -j "$ASGISIM_JOBS" "$@"
}

# Sanitizer reports with stack traces; a UBSan finding stops the program.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
