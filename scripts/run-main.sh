#!/usr/bin/env bash
# The main job: installs what is missing, builds the `asgisim` command line
# in the release preset and runs `asgisim catalogue`: every scenario of the
# catalogue in its buggy and fixed configurations, as one table. Exits 0 only
# when every buggy configuration failed and every fixed one passed. Extra
# arguments go to `asgisim catalogue` (e.g. --fixed-seeds 10000, --jobs 8).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

bash scripts/setup.sh
# Only the one target: no tests or benchmarks are needed to run the main job.
configure_and_build release asgisim
section "asgisim catalogue"
exec "$(build_dir release)/scenarios/cli/asgisim" catalogue "$@"
