//===- Rope.cuh - rotary position embedding ---------------------*- C++ -*-===//
//
// nanochat's half-split rotary embedding: channel j of a head pairs with
// channel j + D/2. A block rotates one token (t, b) of every head; thread
// (j, y) computes cos/sin of its angle once, in float32 as torch builds
// nanochat's tables, and rotates pair j of heads y, y + blockDim.y, ...
// Consecutive threads touch consecutive channels, so the accesses coalesce.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_ROPE_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_ROPE_CUH

#include "backends/cuda/Intrinsics.h"
#include "backends/cuda/kernels/Common.cuh"

namespace gptc::cuda::kernels {

/// Rotates x[B, T, H, D] into y with row b's token t at position
/// firstPositions[b] + t, or t when firstPositions is null; by −angle when
/// `inverse`, with cos/sin rounded to bfloat16 when `roundBf16`. Grid
/// (T, B); blockDim.x threads split the D/2 pairs, blockDim.y the heads.
static __global__ void __launch_bounds__(kBlockThreads)
    ropeKernel(const float *__restrict__ x,                // [B, T, H, D]
               const int32_t *__restrict__ firstPositions, // [B] or null
               float *__restrict__ y,                      // [B, T, H, D]
               int64_t T, int64_t H, int64_t D, float base, int32_t roundBf16,
               int32_t inverse) {
  const int64_t t = blockIdx.x, b = blockIdx.y;
  const int64_t half = D / 2;
  const int64_t position =
      (firstPositions ? int64_t(__ldg(firstPositions + b)) : 0) + t;
  const int64_t token = (b * T + t) * H;
  for (int64_t j = threadIdx.x; j < half; j += blockDim.x) {
    // invFreq = 1 / base^(2j/D) and angle = position · invFreq, in float32.
    const float inverseFrequency = 1.0f / powf(base, float(2 * j) / float(D));
    const float angle = float(position) * inverseFrequency;
    float s, c;
    sincosf(angle, &s, &c);
    if (roundBf16) {
      c = bf16ToFloat(floatToBf16(c));
      s = bf16ToFloat(floatToBf16(s));
    }
    if (inverse)
      s = -s;
    for (int64_t h = threadIdx.y; h < H; h += blockDim.y) {
      const float *xHead = x + (token + h) * D;
      float *yHead = y + (token + h) * D;
      const float first = __ldg(xHead + j), second = __ldg(xHead + j + half);
      yHead[j] = first * c + second * s;
      yHead[j + half] = -first * s + second * c;
    }
  }
}

/// The block of ropeKernel for heads of D channels: up to kBlockThreads
/// threads over the D/2 pairs, the rest of kBlockThreads over the H heads.
inline dim3 ropeBlock(int64_t H, int64_t D) {
  const int64_t pairs = D / 2 < kBlockThreads ? D / 2 : kBlockThreads;
  const int64_t heads = kBlockThreads / pairs < H ? kBlockThreads / pairs : H;
  return dim3(unsigned(pairs), unsigned(heads));
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_ROPE_CUH
