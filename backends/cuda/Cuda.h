//===- Cuda.h - one source for nvcc and the SIMT emulator -------*- C++ -*-===//
//
// Every kernel header in backends/cuda/kernels includes this first. Under
// nvcc it is the CUDA runtime; under the host compiler it is gptc's SIMT
// emulator (Simt.h) plus the device math functions the kernels use.
// Kernel code writes CUDA as usual (threadIdx, __syncthreads,
// __shfl_xor_sync, atomicAdd, __ldg), declares static shared memory with
// GPTC_SHARED_ARRAY and takes the few operations the two sides implement
// differently from Intrinsics.h.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_CUDA_H
#define GPTC_BACKENDS_CUDA_CUDA_H

#ifdef __CUDACC__
#include <cuda_runtime.h>
#else
#include "backends/cuda/Simt.h"

#include <cmath>

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float x, float y) { return x / y; }
#endif

#include <cstdint>

/// Declares the block's static shared array `T name[count]`: under nvcc a
/// `__shared__` array, on the emulator a `T *const` into the block's shared
/// memory, filled with NaN bytes for every block and fenced by canaries that
/// are checked when the block exits (gptc::simt::staticShared).
#ifdef __CUDACC__
#define GPTC_SHARED_ARRAY(T, name, ...) __shared__ T name[__VA_ARGS__]
#else
#define GPTC_SHARED_ARRAY(T, name, ...)                                        \
  static char gptcSharedSite_##name;                                           \
  T *const name = static_cast<T *>(::gptc::simt::staticShared(                 \
      &gptcSharedSite_##name, #name, sizeof(T) * (__VA_ARGS__)))
#endif

#endif // GPTC_BACKENDS_CUDA_CUDA_H
