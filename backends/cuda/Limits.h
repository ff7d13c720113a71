//===- Limits.h - what the CUDA runtime's kernels support -------*- C++ -*-===//
//
// The shapes gptc's own CUDA kernels are built for. The kernels dispatch on
// these and the code generator (passes/ConvertToEmitC.cpp) reads them to
// refuse, at compile time, a model the runtime cannot run. Plain constexpr
// C++: no CUDA header, so the compiler can include it.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_LIMITS_H
#define GPTC_BACKENDS_CUDA_LIMITS_H

#include <cstdint>

namespace gptc::cuda {

/// The head dims causalAttention and causalAttentionBackward are
/// instantiated for (the tile shapes fix D at compile time).
constexpr int64_t kAttentionHeadDims[] = {16, 32, 64, 128};

constexpr bool isAttentionHeadDimSupported(int64_t D) {
  for (int64_t supported : kAttentionHeadDims)
    if (D == supported)
      return true;
  return false;
}

/// The widest head cachedAttention supports: 32 lanes of two float4s.
constexpr int64_t kMaxDecodeHeadDim = 256;

/// cachedAttention reads heads as float4s, one lane per 8 floats at most.
constexpr bool isDecodeHeadDimSupported(int64_t D) {
  return D > 0 && D % 4 == 0 && D <= kMaxDecodeHeadDim;
}

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_LIMITS_H
