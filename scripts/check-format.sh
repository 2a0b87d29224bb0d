#!/usr/bin/env bash
# Fails when a tracked C++ file differs from .clang-format (clang-format-14,
# Debian's). Lists each file that differs and the command that fixes them all.
# Options: --fix  reformat the files in place instead of failing.
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
case "${1:-}" in
  --fix) fix=1 ;;
  "") ;;
  *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac

mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h')
if ((fix)); then
  clang-format-14 -i "${files[@]}"
  exit 0
fi
differ=()
for file in "${files[@]}"; do
  if ! clang-format-14 --dry-run --Werror "$file" >/dev/null 2>&1; then differ+=("$file"); fi
done
if ((${#differ[@]})); then
  echo "format: ${#differ[@]} of ${#files[@]} files differ from .clang-format:" >&2
  printf '  %s\n' "${differ[@]}" >&2
  echo "format: fix them with: bash scripts/check-format.sh --fix" >&2
  exit 1
fi
echo "format: all ${#files[@]} C++ files match .clang-format"
