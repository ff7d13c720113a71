//===- Norm.cpp - RMS normalisation ---------------------------------------===//

#include "backends/cpu/Kernels.h"

#include <cmath>

namespace gptc::cpu {

void rmsNorm(const float *x, // [rows, cols]
             float *y,       // [rows, cols]
             int64_t rows, int64_t cols, float eps) {
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const float *xRow = x + r * cols;
    float *yRow = y + r * cols;
    double sumSquares = 0.0;
#pragma omp simd reduction(+ : sumSquares)
    for (int64_t c = 0; c < cols; ++c)
      sumSquares += static_cast<double>(xRow[c]) * xRow[c];
    const float inverseRms = static_cast<float>(
        1.0 / std::sqrt(sumSquares / static_cast<double>(cols) + eps));
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c)
      yRow[c] = xRow[c] * inverseRms;
  }
}

} // namespace gptc::cpu
