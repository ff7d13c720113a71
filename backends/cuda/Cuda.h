//===- Cuda.h - one source for nvcc and the SIMT emulator -------*- C++ -*-===//
//
// Every kernel header in backends/cuda/kernels includes this first. Under
// nvcc it is the CUDA runtime; under the host compiler it is gptc's SIMT
// emulator (Simt.h) plus the device math functions the kernels use.
// Kernel code writes CUDA as usual (threadIdx, __shared__, __syncthreads,
// __shfl_xor_sync, atomicAdd, __ldg) and takes the few operations the two
// sides implement differently from Intrinsics.h.
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

#endif // GPTC_BACKENDS_CUDA_CUDA_H
