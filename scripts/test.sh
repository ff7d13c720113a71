#!/usr/bin/env bash
# Builds gptc (installing missing packages) and runs every test: lit + FileCheck
# (IR, passes, frontend, end-to-end goldens) and the GoogleTests, through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
cd build
ctest --output-on-failure -j2
