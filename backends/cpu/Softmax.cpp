//===- Softmax.cpp - causal mask and row softmax --------------------------===//
//
// The two middle steps of unfused attention (attnScores -> causalMask ->
// softmax -> attnApply); softmax is a general last-axis softmax.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"

namespace gptc::cpu {

void causalMask(const float *x, // [rows, T, T]
                float *y,       // [rows, T, T]
                int64_t rows, int64_t T) {
  const float minusInf = -std::numeric_limits<float>::infinity();
#pragma omp parallel for collapse(2)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < T; ++i) {
      const float *xRow = x + (r * T + i) * T;
      float *yRow = y + (r * T + i) * T;
#pragma omp simd
      for (int64_t j = 0; j < T; ++j)
        yRow[j] = j <= i ? xRow[j] : minusInf;
    }
  }
}

void softmax(const float *x, // [rows, cols]
             float *y,       // [rows, cols]
             int64_t rows, int64_t cols) {
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const float *xRow = x + r * cols;
    float *yRow = y + r * cols;
    const float rowMax =
        maxOf(xRow, cols, -std::numeric_limits<float>::infinity());
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) {
      yRow[j] = fastExp(xRow[j] - rowMax);
      sum += yRow[j];
    }
    const float inverseSum = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j)
      yRow[j] *= inverseSum;
  }
}

} // namespace gptc::cpu
