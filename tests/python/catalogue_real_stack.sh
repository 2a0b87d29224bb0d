#!/bin/sh
# ctest catalogue_real_stack: `asgisim catalogue --python HELPER` runs the
# catalogue scenarios of the installed Starlette against the real code, and
# they agree with the model (exit 0, at least one configuration run); a
# --python that cannot run the bridge is a usage error (exit 2, named).
#   catalogue_real_stack.sh ASGISIM_CLI ASGISIM_PYTHON_HELPER
cli=$1
helper=$2
out=$("$cli" catalogue --python "$helper" --fixed-seeds 20 2>&1)
status=$?
printf '%s\n' "$out"
[ "$status" -eq 0 ] || { echo "FAIL: exit $status, expected 0"; exit 1; }
printf '%s\n' "$out" | grep -Eq 'real stack: [1-9][0-9]* of [1-9][0-9]* configurations' ||
  { echo "FAIL: no configuration ran against the real code"; exit 1; }

out=$("$cli" catalogue --python /nonexistent/python3 --fixed-seeds 1 2>&1)
status=$?
[ "$status" -eq 2 ] || { printf '%s\n' "$out"; echo "FAIL: a bad --python exited $status, expected 2"; exit 1; }
printf '%s\n' "$out" | grep -q 'error: --python /nonexistent/python3: .*(exit status 127' ||
  { printf '%s\n' "$out"; echo "FAIL: the error does not name the command"; exit 1; }
echo "ok"
