//===- Loss.cpp - cross-entropy loss --------------------------------------===//

#include "backends/cpu/Kernels.h"

#include <cmath>

namespace gptc::cpu {

void crossEntropy(const float *logits,    // [rows, V]
                  const int32_t *targets, // [rows]
                  float *loss,            // [1]
                  int64_t rows, int64_t V, int32_t ignoreIndex) {
  double total = 0.0;
  int64_t counted = 0;
#pragma omp parallel for reduction(+ : total, counted)
  for (int64_t r = 0; r < rows; ++r) {
    if (targets[r] == ignoreIndex)
      continue;
    const float *row = logits + r * V;
    const float rowMax = maxOf(row, V, -std::numeric_limits<float>::infinity());
    double sumExp = 0.0;
#pragma omp simd reduction(+ : sumExp)
    for (int64_t j = 0; j < V; ++j)
      sumExp += fastExp(row[j] - rowMax);
    total += rowMax + std::log(sumExp) - row[targets[r]];
    ++counted;
  }
  loss[0] = counted == 0 ? std::numeric_limits<float>::quiet_NaN()
                         : static_cast<float>(total / counted);
}

} // namespace gptc::cpu
