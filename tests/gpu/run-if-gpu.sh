#!/bin/sh
# Runs the GPU-only lit tests (tests/gpu) when gptc-cuda-info finds a usable
# CUDA device; otherwise prints why and exits 77, which CTest reports as a
# skipped test.
# usage: run-if-gpu.sh <build-dir> <tests/gpu source dir>
build=$1
tests=$2
if ! reason=$("$build/bin/gptc-cuda-info" 2>&1); then
  echo "SKIPPED (no GPU): $reason"
  exit 77
fi
echo "running the GPU tests on: $reason"
exec "$build/bin/gptc-lit" -sv "$tests"
