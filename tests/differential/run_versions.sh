#!/bin/sh
# Runs a differential grid against Debian's Starlette and older Starlette trees taken
# from a git mirror, then summarises each and compares consecutive versions.
#
#   tests/differential/run_versions.sh [small|large] [TAG ...]
#
# Defaults: the small grid; tags 0.20.4 0.21.0 debian 0.28.0 0.29.0, where "debian" is
# the Starlette installed with python3-starlette (0.26.1 on Debian 12).
# Environment: STARLETTE_MIRROR (a clone of encode/starlette; required for any tag but
# "debian"), OUT_DIR (default /tmp/asgisim-diff), JOBS
# (worker processes per run, default 2). The trees are extracted under OUT_DIR and
# are never part of the repository.
set -eu

grid=${1:-small}
[ $# -gt 0 ] && shift
tags=${*:-0.20.4 0.21.0 debian 0.28.0 0.29.0}
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
mirror=${STARLETTE_MIRROR:-}
out=${OUT_DIR:-/tmp/asgisim-diff}
jobs=${JOBS:-2}
mkdir -p "$out"

"$python" "$here/generate_cases.py" --grid "$grid" -o "$out/$grid.cases.jsonl"
echo "grid $grid: $(wc -l < "$out/$grid.cases.jsonl") cases"

run() {  # name, extra runner arguments...
    name=$1
    shift
    start=$(date +%s)
    "$python" "$here/starlette_runner.py" --cases "$out/$grid.cases.jsonl" -j "$jobs" \
        -o "$out/$grid.$name.jsonl" "$@"
    echo "$name: $(( $(date +%s) - start )) s"
}

files=
for tag in $tags; do
    if [ "$tag" = debian ]; then
        run debian
    else
        tree="$out/starlette-$tag"
        if [ ! -d "$tree/starlette" ]; then
            if [ -z "$mirror" ]; then
                echo "skip $tag: set STARLETTE_MIRROR to a clone of encode/starlette"
                continue
            fi
            mkdir -p "$tree"
            git -C "$mirror" archive "$tag" starlette | tar -x -C "$tree"
        fi
        run "$tag" --starlette-path "$tree"
    fi
    files="$files $out/$grid.$tag.jsonl"
done

# shellcheck disable=SC2086 # $files is a list of paths without spaces
"$python" "$here/compare_observations.py" --summary $files
previous=
for tag in $tags; do
    if [ -n "$previous" ]; then
        echo "== $previous -> $tag"
        "$python" "$here/compare_observations.py" --level outcome --show 3 \
            "$out/$grid.$previous.jsonl" "$out/$grid.$tag.jsonl" || true
    fi
    previous=$tag
done
