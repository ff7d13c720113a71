#!/usr/bin/env bash
# Installs the Debian packages gptc needs (only those missing), then configures
# and builds it in build/. Usage: scripts/setup.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

packages=(cmake ninja-build g++ python3 llvm-19-dev libmlir-19-dev mlir-19-tools
          llvm-19-tools zlib1g-dev libzstd-dev libfmt-dev libdnnl-dev libtomlplusplus-dev
          googletest libgtest-dev libopenmpi-dev openmpi-bin iproute2 libpcre2-dev
          pkgconf)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "gptc setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
ninja -C "$build"
