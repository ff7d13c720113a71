//===- Kernels.h - CPU runtime kernels ---------------------------*- C++
//-*-===//
//
// The kernels a generated CPU program calls, one per kernel-level op of the
// forward pass, its gradient and decoding, plus small inline helpers they
// share (bfloat16 rounding, a vectorisable exp, tanh and maximum). Their
// signatures and what each computes are in backends/Kernels.def.
// Callers guarantee non-negative dimensions, H % Hkv == 0 and an even D for
// rope. Outputs never alias inputs, and every output element is written.
//
// Precision: reductions whose length is a model dimension (rmsNorm's sums of
// squares, the cross-entropy losses' sums) accumulate in double; softmax row
// sums, the attention's online-softmax sums and the GEMMs (oneDNN)
// accumulate in float; the *Bf16 GEMMs round their inputs to bfloat16. The
// kernels are parallelised with OpenMP and give the same results, up to
// float rounding of reductions, for any thread count.
// crossEntropy and embeddingBackward sum in an order that does not depend on
// the thread count, causalAttentionBackward in one fixed for a fixed count.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_KERNELS_H
#define GPTC_BACKENDS_CPU_KERNELS_H

#include "backends/common/BFloat16.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace gptc::cpu {

/// Below this many elements a kernel runs on the calling thread: waking the
/// OpenMP team costs more than the work (decode steps are full of such ops).
constexpr int64_t kParallelThreshold = 1 << 15;

/// `x` rounded to the nearest bfloat16 (ties to even) and widened back to
/// float. NaN stays NaN (quiet, same sign); overflow rounds to infinity.
inline float roundToBf16(float x) { return bf16ToF32(f32ToBf16(x)); }

/// e^x for float, written with plain arithmetic, min/max and selects so that
/// loops calling it vectorise (glibc's expf does not without -ffast-math,
/// and GCC does not vectorise floorf under its default -ftrapping-math).
/// Cephes' method: x = n·ln2 + r with |r| <= ln2/2, a degree-6 polynomial for
/// e^r, then a scale by 2^n split into two normal powers of two so that
/// results in the subnormal range round correctly. Relative error is below
/// 2 ulp on the normal range (about 0.7 ulp measured); e^-inf = 0,
/// e^+inf = +inf, NaN stays NaN.
inline float fastExp(float x) {
  // Below kLowest the result is under half the smallest subnormal float.
  constexpr float kLowest = -104.0f;
  // ln(FLT_MAX): above it the result overflows.
  constexpr float kHighest = 88.7228394f;
  constexpr float kLog2e = 1.44269504088896341f;
  // ln 2 split so that n·kLn2Hi is exact for the n that occur.
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  // Adding then subtracting 1.5·2^23 rounds a float of magnitude < 2^22 to
  // an integer (the sum has no fraction bits left).
  constexpr float kRoundingShift = 12582912.0f;

  // Written as max(kLowest, x), a NaN compares false and becomes kLowest, so
  // the integer conversion below is always defined; the last select
  // restores it.
  const float clamped = std::min(std::max(kLowest, x), kHighest);
  const float n = (clamped * kLog2e + kRoundingShift) - kRoundingShift;
  const float r = clamped - n * kLn2Hi - n * kLn2Lo;
  float poly = 1.9875691500e-4f;
  poly = poly * r + 1.3981999507e-3f;
  poly = poly * r + 8.3334519073e-3f;
  poly = poly * r + 4.1665795894e-2f;
  poly = poly * r + 1.6666665459e-1f;
  poly = poly * r + 5.0000001201e-1f;
  const float expR = poly * r * r + r + 1.0f;

  // n is in [-150, 128]; both halves are in [-75, 64], so 2^half is normal.
  const int32_t nInt = static_cast<int32_t>(n);
  const int32_t nLow = nInt >> 1;
  const int32_t nHigh = nInt - nLow;
  const float lowScale =
      __builtin_bit_cast(float, static_cast<uint32_t>(nLow + 127) << 23);
  const float highScale =
      __builtin_bit_cast(float, static_cast<uint32_t>(nHigh + 127) << 23);
  const float result = expR * lowScale * highScale;

  const float overflowed =
      x > kHighest ? std::numeric_limits<float>::infinity() : result;
  return x != x ? x : overflowed;
}

/// tanh(x) within a few ulp, vectorisable (Cephes' tanhf): an odd
/// polynomial for |x| < 0.625, else sign(x)·(1 − 2 / (e^(2|x|) + 1)), which
/// has no cancellation there. Large |x| gives ±1, NaN stays NaN.
inline float fastTanh(float x) {
  const float magnitude = std::fabs(x);
  const float z = x * x;
  float poly = -5.70498872745e-3f;
  poly = poly * z + 2.06390887954e-2f;
  poly = poly * z - 5.37397155531e-2f;
  poly = poly * z + 1.33314422036e-1f;
  poly = poly * z - 3.33332819422e-1f;
  const float small = poly * z * x + x;
  const float large =
      std::copysign(1.0f - 2.0f / (fastExp(2.0f * magnitude) + 1.0f), x);
  return magnitude < 0.625f ? small : large;
}

/// The largest of `init` and x[n], ignoring NaNs. Written as a select,
/// which GCC vectorises (std::max in an omp simd max-reduction it does not).
inline float maxOf(const float *x, int64_t n, float init) {
  float result = init;
#pragma omp simd reduction(max : result)
  for (int64_t i = 0; i < n; ++i)
    result = x[i] > result ? x[i] : result;
  return result;
}

// The kernels, declared from their one list (backends/Kernels.def, which
// says what each computes).
#include "backends/KernelDeclarations.inc"

} // namespace gptc::cpu

#endif // GPTC_BACKENDS_CPU_KERNELS_H
