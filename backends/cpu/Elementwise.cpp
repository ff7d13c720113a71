//===- Elementwise.cpp - elementwise kernels ------------------------------===//
//
// scale, add, reluSquare and softcap: one pass over n elements, split across
// threads only when n is large enough to pay for waking them. softcap runs
// over the whole logits tensor, so it uses a vectorisable tanh instead of
// glibc's scalar tanhf.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"

#include <cmath>

namespace gptc::cpu {
namespace {

// Below this many elements one thread is faster than an OpenMP fork/join.
constexpr int64_t kParallelThreshold = 1 << 15;

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

} // namespace

void scale(const float *x, // [n]
           float *y,       // [n]
           int64_t n, float factor) {
#pragma omp parallel for simd if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    y[i] = factor * x[i];
}

void add(const float *a, // [n]
         const float *b, // [n]
         float *y,       // [n]
         int64_t n) {
#pragma omp parallel for simd if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] + b[i];
}

void reluSquare(const float *x, // [n]
                float *y,       // [n]
                int64_t n) {
#pragma omp parallel for simd if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    // Written so that a NaN input stays NaN, as in torch.relu.
    const float relu = x[i] < 0.0f ? 0.0f : x[i];
    y[i] = relu * relu;
  }
}

void softcap(const float *x, // [n]
             float *y,       // [n]
             int64_t n, float cap) {
#pragma omp parallel for simd if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    y[i] = cap * fastTanh(x[i] / cap);
}

} // namespace gptc::cpu
