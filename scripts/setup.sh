#!/usr/bin/env bash
# Installs what asgisim needs to build and test on Debian 12, and only what is
# missing: when everything is present this is a few dpkg-query calls and no
# network. Safe to run again; noninteractive; root or sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-context-dev librapidcheck-dev libgtest-dev libgmock-dev libfmt-dev
  libbenchmark-dev libcli11-dev nlohmann-json3-dev
  clang-14 libfuzzer-14-dev libclang-rt-14-dev clang-format-14
  python3-starlette python3-anyio python3-hypothesis
  python3-dev pybind11-dev python3-pytest python3-httpx python3-fastapi python3-sqlalchemy
  chromium
)
# npm for the report's pinned JavaScript (below): Debian's own when the
# machine has none (a machine with Node.js from elsewhere keeps its npm).
if ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi

# The HTML report's JavaScript libraries, pinned by package-lock.json and
# bundled into the page at build time (scenarios/report/CMakeLists.txt).
install_web_libraries() {
  local report
  report="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scenarios/report"
  # npm ci leaves node_modules/.package-lock.json: newer than the lock file
  # means the pinned versions are installed.
  if [[ "$report/node_modules/.package-lock.json" -nt "$report/package-lock.json" ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm missing; the report's wait-for graph falls back to a list (install node and npm, run again)" >&2
    return 0  # only when apt could not install it
  fi
  echo "setup: npm ci in scenarios/report"
  (cd "$report" && npm ci --no-audit --no-fund --ignore-scripts)
}

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  install_web_libraries
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo -n)
else
  echo "setup: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
install_web_libraries
echo "setup: done"
