//===- Norm.cpp - RMS normalisation and its gradient ----------------------===//

#include "backends/cpu/Kernels.h"

#include <cmath>

namespace gptc::cpu {
namespace {

/// 1 / sqrt(mean(x²) + eps) of a row of `cols` elements whose squares sum to
/// `sumSquares`.
double inverseRms(double sumSquares, int64_t cols, float eps) {
  return 1.0 / std::sqrt(sumSquares / static_cast<double>(cols) + eps);
}

} // namespace

void rmsNorm(const float *x, // [rows, cols]
             float *y,       // [rows, cols]
             int64_t rows, int64_t cols, float eps) {
#pragma omp parallel for if (rows * cols >= kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const float *xRow = x + r * cols;
    float *yRow = y + r * cols;
    double sumSquares = 0.0;
#pragma omp simd reduction(+ : sumSquares)
    for (int64_t c = 0; c < cols; ++c)
      sumSquares += static_cast<double>(xRow[c]) * xRow[c];
    const float rowScale =
        static_cast<float>(inverseRms(sumSquares, cols, eps));
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c)
      yRow[c] = xRow[c] * rowScale;
  }
}

void rmsNormBackward(const float *x,  // [rows, cols]
                     const float *dy, // [rows, cols]
                     float *dx,       // [rows, cols]
                     int64_t rows, int64_t cols, float eps) {
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const float *xRow = x + r * cols;
    const float *dyRow = dy + r * cols;
    float *dxRow = dx + r * cols;
    double sumSquares = 0.0, sumProducts = 0.0;
#pragma omp simd reduction(+ : sumSquares, sumProducts)
    for (int64_t c = 0; c < cols; ++c) {
      sumSquares += static_cast<double>(xRow[c]) * xRow[c];
      sumProducts += static_cast<double>(dyRow[c]) * xRow[c];
    }
    // With y = x·r, mean(dy∘y) = r·mean(dy∘x), so
    // dx = r·dy − r³·mean(dy∘x)·x.
    const double rowScale = inverseRms(sumSquares, cols, eps);
    const float dyScale = static_cast<float>(rowScale);
    const float xScale =
        static_cast<float>(rowScale * rowScale * rowScale * sumProducts /
                           static_cast<double>(cols));
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c)
      dxRow[c] = dyScale * dyRow[c] - xScale * xRow[c];
  }
}

} // namespace gptc::cpu
