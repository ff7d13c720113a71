//===- Loss.cpp - cross-entropy losses ------------------------------------===//
//
// crossEntropy over given logits, and the fused lm_head losses, which never
// hold more than kChunkRows rows of logits: per chunk of rows, one GEMM makes
// the logits, and each row is soft-capped in place and reduced to its
// log-sum-exp and loss while it is in cache. The gradient recomputes the
// same chunk, turns each row into the logits' gradient in place and
// consumes the chunk at once with two more GEMMs. Row losses are summed
// serially in row order, so that sum does not depend on the thread count.
// The *Bf16 variants run the same chunks with the GEMMs on bfloat16 inputs:
// w rounded once per call, each chunk's x and dz as they come.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Gemm.h"
#include "backends/cpu/Kernels.h"
#include "backends/cpu/Workspace.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace gptc::cpu {
namespace {

// Rows of logits per chunk: enough to keep the GEMMs efficient (dw's
// accumulation has depth kChunkRows), few enough that a chunk of a 64k
// vocabulary (32 MiB) stays in the last-level cache.
constexpr int64_t kChunkRows = 128;

/// The natural-log log-sum-exp of row[n], after subtracting its maximum; the
/// sum accumulates in double.
double logSumExp(const float *row, int64_t n) {
  const float rowMax = maxOf(row, n, -std::numeric_limits<float>::infinity());
  double sumExp = 0.0;
#pragma omp simd reduction(+ : sumExp)
  for (int64_t j = 0; j < n; ++j)
    sumExp += fastExp(row[j] - rowMax);
  return rowMax + std::log(sumExp);
}

/// The number of targets[rows] that are not ignoreIndex.
int64_t countTargets(const int32_t *targets, int64_t rows,
                     int32_t ignoreIndex) {
  return std::count_if(targets, targets + rows,
                       [&](int32_t target) { return target != ignoreIndex; });
}

/// The mean of rowLosses[rows] over the rows whose target is not
/// ignoreIndex (the others hold 0), summed in row order; NaN when every row
/// is ignored (as in PyTorch).
float meanLoss(const std::vector<double> &rowLosses, const int32_t *targets,
               int32_t ignoreIndex) {
  const int64_t rows = static_cast<int64_t>(rowLosses.size());
  const int64_t counted = countTargets(targets, rows, ignoreIndex);
  double total = 0.0;
  for (double rowLoss : rowLosses)
    total += rowLoss;
  return counted == 0 ? std::numeric_limits<float>::quiet_NaN()
                      : static_cast<float>(total / counted);
}

/// The three matrix products of the lm_head losses for one chunk of rows,
/// on float inputs or, with bf16, on inputs rounded to bfloat16 (as
/// linearBf16 does) with float sums. The bfloat16 copies live in workspace
/// slots 1 to 3; slot 0 is the chunk's logits.
class ChunkProducts {
public:
  ChunkProducts(const float *w, // [V, C]
                int64_t C, int64_t V, bool bf16)
      : w(w), C(C), V(V), bf16(bf16) {
    if (bf16) {
      wBf16 = bf16Workspace(1, V * C);
      toBf16(w, wBf16, V * C);
    }
  }

  /// Makes x[chunk, C] the rows that the next products take.
  void setRows(const float *rows, // [chunk, C]
               int64_t rowCount) {
    x = rows;
    chunk = rowCount;
    if (bf16) {
      xBf16 = bf16Workspace(2, chunk * C);
      toBf16(x, xBf16, chunk * C);
    }
  }

  /// z[chunk, V] = x · wᵀ: the chunk's logits.
  void logits(float *z) const { // [chunk, V]
    if (bf16)
      gemmBf16(false, true, chunk, V, C, xBf16, wBf16, z,
               /*accumulate=*/false);
    else
      sgemm('N', 'T', chunk, V, C, 1.0f, x, C, w, C, 0.0f, z, V);
  }

  /// dx[chunk, C] = dz · w and dw[V, C] += dzᵀ · x.
  void backward(const float *dz, // [chunk, V]
                float *dx,       // [chunk, C]
                float *dw) {     // [V, C]
    if (bf16) {
      uint16_t *dzBf16 = bf16Workspace(3, chunk * V);
      toBf16(dz, dzBf16, chunk * V);
      gemmBf16(false, false, chunk, C, V, dzBf16, wBf16, dx,
               /*accumulate=*/false);
      gemmBf16(true, false, V, C, chunk, dzBf16, xBf16, dw,
               /*accumulate=*/true);
      return;
    }
    sgemm('N', 'N', chunk, C, V, 1.0f, dz, V, w, C, 0.0f, dx, C);
    sgemm('T', 'N', V, C, chunk, 1.0f, dz, V, x, C, 1.0f, dw, C);
  }

private:
  const float *w; // [V, C]
  int64_t C, V;
  bool bf16;
  uint16_t *wBf16 = nullptr; // [V, C] when bf16
  const float *x = nullptr;  // [chunk, C]
  int64_t chunk = 0;
  uint16_t *xBf16 = nullptr; // [chunk, C] when bf16
};

/// Soft-caps row[V] in place, s = cap·tanh(z/cap), and returns the
/// log-sum-exp of s.
double softcapRow(float *row, int64_t V, float cap) {
#pragma omp simd
  for (int64_t j = 0; j < V; ++j)
    row[j] = cap * fastTanh(row[j] / cap);
  return logSumExp(row, V);
}

} // namespace

void crossEntropy(const float *logits,    // [rows, V]
                  const int32_t *targets, // [rows]
                  float *loss,            // [1]
                  int64_t rows, int64_t V, int32_t ignoreIndex) {
  std::vector<double> rowLosses(rows, 0.0);
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] != ignoreIndex)
      rowLosses[r] = logSumExp(logits + r * V, V) - logits[r * V + targets[r]];
  loss[0] = meanLoss(rowLosses, targets, ignoreIndex);
}

namespace {

/// lmHeadLoss, with its logits' GEMM on bfloat16 inputs when bf16.
void lmHeadLossChunked(const float *x,         // [rows, C]
                       const float *w,         // [V, C]
                       const int32_t *targets, // [rows]
                       float *loss,            // [1]
                       int64_t rows, int64_t C, int64_t V, float cap,
                       int32_t ignoreIndex, bool bf16) {
  float *logits = workspace(0, std::min(rows, kChunkRows) * V);
  ChunkProducts products(w, C, V, bf16);
  std::vector<double> rowLosses(rows, 0.0);
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    const int64_t chunk = std::min(kChunkRows, rows - r0);
    products.setRows(x + r0 * C, chunk);
    products.logits(logits);
#pragma omp parallel for
    for (int64_t r = 0; r < chunk; ++r) {
      const int32_t target = targets[r0 + r];
      if (target == ignoreIndex)
        continue;
      float *row = logits + r * V;
      rowLosses[r0 + r] = softcapRow(row, V, cap) - row[target];
    }
  }
  loss[0] = meanLoss(rowLosses, targets, ignoreIndex);
}

/// lmHeadLossBackward, with its GEMMs on bfloat16 inputs when bf16.
void lmHeadLossBackwardChunked(const float *x,         // [rows, C]
                               const float *w,         // [V, C]
                               const int32_t *targets, // [rows]
                               const float *dloss,     // [1]
                               float *dx,              // [rows, C]
                               float *dw,              // [V, C]
                               int64_t rows, int64_t C, int64_t V, float cap,
                               int32_t ignoreIndex, bool bf16) {
  const int64_t counted = countTargets(targets, rows, ignoreIndex);
  // With every row ignored, every row's gradient is 0.
  const float rowFactor =
      counted == 0
          ? 0.0f
          : static_cast<float>(static_cast<double>(dloss[0]) / counted);
  fill(dw, V * C, 0.0f);
  float *logits = workspace(0, std::min(rows, kChunkRows) * V);
  ChunkProducts products(w, C, V, bf16);
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    const int64_t chunk = std::min(kChunkRows, rows - r0);
    products.setRows(x + r0 * C, chunk);
    products.logits(logits);
    // Each row of logits becomes its gradient dz in place while it is in
    // cache: with s = cap·tanh(z/cap), ds/dz = 1 − tanh² = 1 − (s/cap)².
#pragma omp parallel for
    for (int64_t r = 0; r < chunk; ++r) {
      float *row = logits + r * V;
      const int32_t target = targets[r0 + r];
      if (target == ignoreIndex) {
        std::fill(row, row + V, 0.0f);
        continue;
      }
      const float lse = static_cast<float>(softcapRow(row, V, cap));
#pragma omp simd
      for (int64_t j = 0; j < V; ++j) {
        const float probability = fastExp(row[j] - lse);
        const float onehot = j == target ? 1.0f : 0.0f;
        const float tanh = row[j] / cap;
        row[j] = rowFactor * (probability - onehot) * (1.0f - tanh * tanh);
      }
    }
    products.backward(logits, dx + r0 * C, dw);
  }
}

} // namespace

void lmHeadLoss(const float *x,         // [rows, C]
                const float *w,         // [V, C]
                const int32_t *targets, // [rows]
                float *loss,            // [1]
                int64_t rows, int64_t C, int64_t V, float cap,
                int32_t ignoreIndex) {
  lmHeadLossChunked(x, w, targets, loss, rows, C, V, cap, ignoreIndex,
                    /*bf16=*/false);
}

void lmHeadLossBf16(const float *x,         // [rows, C]
                    const float *w,         // [V, C]
                    const int32_t *targets, // [rows]
                    float *loss,            // [1]
                    int64_t rows, int64_t C, int64_t V, float cap,
                    int32_t ignoreIndex) {
  lmHeadLossChunked(x, w, targets, loss, rows, C, V, cap, ignoreIndex,
                    /*bf16=*/true);
}

void lmHeadLossBackward(const float *x,         // [rows, C]
                        const float *w,         // [V, C]
                        const int32_t *targets, // [rows]
                        const float *dloss,     // [1]
                        float *dx,              // [rows, C]
                        float *dw,              // [V, C]
                        int64_t rows, int64_t C, int64_t V, float cap,
                        int32_t ignoreIndex) {
  lmHeadLossBackwardChunked(x, w, targets, dloss, dx, dw, rows, C, V, cap,
                            ignoreIndex, /*bf16=*/false);
}

void lmHeadLossBackwardBf16(const float *x,         // [rows, C]
                            const float *w,         // [V, C]
                            const int32_t *targets, // [rows]
                            const float *dloss,     // [1]
                            float *dx,              // [rows, C]
                            float *dw,              // [V, C]
                            int64_t rows, int64_t C, int64_t V, float cap,
                            int32_t ignoreIndex) {
  lmHeadLossBackwardChunked(x, w, targets, dloss, dx, dw, rows, C, V, cap,
                            ignoreIndex, /*bf16=*/true);
}

} // namespace gptc::cpu
