#!/bin/sh
# The differential test end to end: generate a grid, run it against the real Starlette
# and against the model, and check that they agree (check_agreement.py) up to the
# accepted differences of that version (accepted/VERSION.txt).
#
#   tests/differential/run_differential.sh MODEL_RUNNER [small|large|regressions] [VERSION]
#
# MODEL_RUNNER is the built differential_model_runner. VERSION is "debian" (the
# Starlette of python3-starlette, 0.26.1 on Debian 12, the default) or a tag of
# the mirror (0.20.4, 0.21.0, 0.28.0, 0.29.0), extracted as run_versions.sh does.
# Exit status: 0 agreement, 1 disagreement, 77 skipped (/usr/bin/python3 lacks
# starlette, the mirror lacks the tag, or the large grid without
# ASGISIM_DIFFERENTIAL_LARGE=1: it takes 3 to 15 minutes). Environment: OUT_DIR (default
# /tmp/asgisim-differential), JOBS (real-side worker processes, default 2),
# STARLETTE_MIRROR (a clone of encode/starlette, now Kludex/starlette; without it the other
# versions skip), ANYIO (a tag of ANYIO_MIRROR, a clone of agronholm/anyio, for the real side
# instead of Debian's anyio 3.6.2; e.g. ANYIO=4.14.2), CLEANUP=1 (every async streaming
# endpoint's body iterator gets a finally that records stream_closed: generate_cases.py
# --cleanup).
set -eu

model=$1
grid=${2:-small}
version=${3:-debian}
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
out=${OUT_DIR:-/tmp/asgisim-differential}
jobs=${JOBS:-2}
mirror=${STARLETTE_MIRROR:-}

if [ "$grid" = large ] && [ "${ASGISIM_DIFFERENTIAL_LARGE:-0}" != 1 ]; then
    echo "SKIP: the large grid runs on demand only (ASGISIM_DIFFERENTIAL_LARGE=1; 3 to 15 minutes on 2 cores)"
    exit 77
fi
if ! [ -x "$python" ] || ! "$python" -c 'import starlette, anyio' 2>/dev/null; then
    echo "SKIP: $python has no starlette/anyio (apt-get install python3-starlette)"
    exit 77
fi
mkdir -p "$out"
path_option=
if [ "$version" = debian ]; then
    starlette=$("$python" -c 'import starlette; print(starlette.__version__)')
else
    starlette=$version
    tree="$out/starlette-$version"
    if [ ! -d "$tree/starlette" ]; then
        if [ -z "$mirror" ]; then
            echo "SKIP: Starlette $version needs STARLETTE_MIRROR, a clone of encode/starlette"
            exit 77
        fi
        if ! git -C "$mirror" rev-parse --verify -q "refs/tags/$version" >/dev/null 2>&1; then
            echo "SKIP: no Starlette $version in $mirror"
            exit 77
        fi
        mkdir -p "$tree"
        git -C "$mirror" archive "$version" starlette | tar -x -C "$tree"
    fi
    path_option="--starlette-path $tree"
fi

anyio_option=
anyio_label=
if [ -n "${ANYIO:-}" ]; then
    anyio_mirror=${ANYIO_MIRROR:-}
    if [ -z "$anyio_mirror" ] || ! git -C "$anyio_mirror" rev-parse --verify -q "refs/tags/$ANYIO" >/dev/null 2>&1; then
        echo "SKIP: anyio $ANYIO needs ANYIO_MIRROR, a clone of agronholm/anyio holding that tag"
        exit 77
    fi
    anyio_tree="$out/anyio-$ANYIO"
    if [ ! -d "$anyio_tree/src/anyio" ]; then
        mkdir -p "$anyio_tree"
        git -C "$anyio_mirror" archive "$ANYIO" src/anyio | tar -x -C "$anyio_tree"
    fi
    anyio_option="--anyio-path $anyio_tree/src"
    anyio_label=".anyio-$ANYIO"
fi

cleanup_option=
cleanup_label=
if [ "${CLEANUP:-0}" = 1 ]; then
    cleanup_option=--cleanup
    cleanup_label=.cleanup
fi
cases="$out/$grid$cleanup_label.cases.jsonl"
real="$out/$grid$cleanup_label.$starlette$anyio_label.real.jsonl"
observed="$out/$grid$cleanup_label.$starlette$anyio_label.model.jsonl"
start=$(date +%s)
"$python" "$here/generate_cases.py" --grid "$grid" $cleanup_option -o "$cases"
echo "grid $grid: $(wc -l < "$cases") cases${CLEANUP:+ (with --cleanup)}; Starlette $starlette${ANYIO:+, anyio $ANYIO}"
# shellcheck disable=SC2086 # each option is empty or two words without spaces
"$python" "$here/starlette_runner.py" --cases "$cases" -j "$jobs" --no-meta $path_option $anyio_option -o "$real"
echo "real side: $(( $(date +%s) - start )) s"
start=$(date +%s)
"$model" --cases "$cases" --starlette "$starlette" ${ANYIO:+--anyio "$ANYIO"} --no-meta -o "$observed"
echo "model side: $(( $(date +%s) - start )) s"
accepted="$here/accepted/$starlette.txt"
[ -f "$accepted" ] || accepted=
"$python" "$here/check_agreement.py" "$real" "$observed" ${accepted:+--accepted "$accepted"}
