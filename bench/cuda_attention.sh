#!/usr/bin/env bash
# Fused causal attention on the GPU: gptc's own FlashAttention-2-style
# kernels against cuDNN's SDPA graphs (what --attention=cudnn runs), forward
# and backward, on nanochat-like shapes (bench/cuda_attention.cpp). Prints
# ms and TFLOP/s of each pass per path (causal FLOPs: fwd 2*B*H*T^2*D, bwd
# 2.5x that), gptc's speed relative to cuDNN's, the fraction of the bf16
# dense peak on an H100 SXM, and how far the two paths' results are apart.
# Not a test: numbers move with clocks and with whatever else runs on the GPU.
#
# Needs an NVIDIA GPU (compute capability 8.0 or newer) and a build dir
# configured with the CUDA toolkit (nvcc, cuBLASLt, cuDNN 9), which builds
# <build-dir>/lib/libgptc_cuda_runtime.a. Without a usable GPU the
# benchmark prints "skipped: <reason>" and exits 0.
#
# --emulator links the SIMT emulator (g++, no GPU needed) instead and, unless
# benchmark args are given, runs one tiny shape once: a smoke check that
# both paths run and agree; its timings mean nothing.
#
# usage: bench/cuda_attention.sh [build-dir] [--emulator] [benchmark args...]
#        (default build dir: build; benchmark args: --shape B,T,H,Hkv,D
#        (repeatable), --iters N, --warmup N; see --help)
set -euo pipefail
build=build
if [[ $# -gt 0 && $1 != -* ]]; then
  build=$1
  shift
fi
emulator=0
if [[ $# -gt 0 && $1 == --emulator ]]; then
  emulator=1
  shift
fi
build=$(cd "$build" && pwd)
cd "$(dirname "$0")/.."
mkdir -p "$build/bench"

if [[ $emulator == 1 ]]; then
  binary=$build/bench/cuda_attention_emulator
  g++ -std=c++17 -O2 -fopenmp -I. bench/cuda_attention.cpp -o "$binary" \
    "$build/lib/libgptc_cuda_emulator.a" "$build/lib/libgptc_runtime_common.a" -lfmt
  if [[ $# -eq 0 ]]; then
    set -- --shape 1,64,2,1,32 --iters 1 --warmup 1
  fi
else
  binary=$build/bench/cuda_attention
  cuda=${CUDA_HOME:-/usr/local/cuda}
  # The runtime's device code is in the archive (sm_80 and sm_90); this
  # file is host C++, so nvcc only drives the host compiler and the link
  # (with the static CUDA runtime).
  "$cuda/bin/nvcc" -std=c++17 -O2 -I. bench/cuda_attention.cpp -o "$binary" \
    "$build/lib/libgptc_cuda_runtime.a" "$build/lib/libgptc_runtime_common.a" -lfmt \
    -L"$cuda/lib64" -lcublasLt -lcudnn -Xlinker -rpath="$cuda/lib64"
fi
"$binary" "$@"
