//===- Elementwise.cpp - elementwise kernels ------------------------------===//
//
// fill, scale, add, reluSquare, its gradient and softcap: one pass over n
// elements, split across threads only when n is large enough to pay for
// waking them. softcap runs over the whole logits tensor, so it uses the
// vectorisable fastTanh instead of glibc's scalar tanhf.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"

namespace gptc::cpu {
namespace {} // namespace

void fill(float *y, // [n]
          int64_t n, float value) {
#pragma omp parallel for simd if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    y[i] = value;
}

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

void reluSquareBackward(const float *x,  // [n]
                        const float *dy, // [n]
                        float *dx,       // [n]
                        int64_t n) {
#pragma omp parallel for simd if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const float relu = x[i] < 0.0f ? 0.0f : x[i];
    dx[i] = 2.0f * relu * dy[i];
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
