#!/usr/bin/env bash
# The main job: installs what is missing, builds the `asgisim` command line
# in the release preset and runs `asgisim catalogue`: every scenario of the
# catalogue in its buggy and fixed configurations, as one table. Exits 0 only
# when every buggy configuration failed and every fixed one passed, and the
# real stack's column agrees with the model. Extra
# arguments go to `asgisim catalogue` (e.g. --fixed-seeds 10000, --jobs 8).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

bash scripts/setup.sh
# Only what the main job runs: the command line, and the bridge for the
# column of the real stack (the catalogue scenarios whose configuration is
# Debian's Starlette 0.26.1, run against the real code; docs/python.md).
configure_and_build release asgisim asgisim_native
section "asgisim catalogue"
exec "$(build_dir release)/scenarios/cli/asgisim" catalogue --python "$(build_dir release)/python/asgisim-python" "$@"
