#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset and runs
# the main program. Today that is the kernel demo (examples/kernel_demo);
# once the CLI exists it becomes `asgisim catalogue`. Extra arguments are
# passed to the program.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

bash scripts/setup.sh
# Only the one target: no tests or benchmarks are needed to run the main job.
configure_and_build release kernel_demo
# TODO(cli): configure_and_build release asgisim && exec "$(build_dir release)/scenarios/asgisim" catalogue "$@"
section "kernel_demo"
exec "$(build_dir release)/examples/kernel_demo" "$@"
