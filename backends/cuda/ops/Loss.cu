//===- Loss.cu - cross-entropy and the fused lm_head losses ---------------===//
//
// crossEntropy reduces each row of the given logits to its loss with one
// block per row, then averages the rows in one block. The lm_head losses
// never hold more than kChunkRows rows of logits: per chunk, cuBLASLt makes
// the logits, and the row kernel soft-caps and reduces them (forward) or
// turns them into their gradient dz, which two more GEMMs consume at once:
// dx for the chunk's rows, and dw accumulated over the chunks.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Blas.h"
#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/Workspace.h"
#include "backends/cuda/kernels/Loss.cuh"

namespace gptc::cuda {
namespace {

using namespace kernels;

/// Rows of logits per chunk: enough rows for efficient GEMMs (dw's
/// accumulation has depth kChunkRows) and for one row block per SM several
/// times over; a chunk of a 64k vocabulary is 128 MiB of logits and as
/// much gradient.
constexpr int64_t kChunkRows = 512;

/// Whether rows of V logits at `logits` can be read as float4.
bool vectorRows(const float *logits, int64_t V) {
  return V % 4 == 0 && isVectorAligned(logits);
}

/// rowLosses[rows] = the (soft-capped when Softcap) cross-entropy of each
/// row of logits[rows, V].
template <bool Softcap>
void rowLosses(const float *logits, const int32_t *targets, double *losses,
               int64_t rows, int64_t V, float cap, int32_t ignoreIndex) {
  if (vectorRows(logits, V))
    launch("crossEntropyRows", &crossEntropyRowsKernel<4, Softcap>,
           dim3(unsigned(rows)), dim3(rowThreads(V)), 0, logits, targets,
           losses, V, cap, ignoreIndex);
  else
    launch("crossEntropyRows", &crossEntropyRowsKernel<1, Softcap>,
           dim3(unsigned(rows)), dim3(rowThreads(V)), 0, logits, targets,
           losses, V, cap, ignoreIndex);
}

/// loss[0] = the mean of rowLosses[rows] over the rows not ignored.
void meanLoss(const double *losses, const int32_t *targets, float *loss,
              int64_t rows, int32_t ignoreIndex) {
  launch("meanLoss", &meanLossKernel, dim3(1), dim3(kReductionThreads), 0,
         losses, targets, loss, rows, ignoreIndex);
}

/// z[rows, V] = x[rows, C] · w[V, C]ᵀ: the logits of a chunk of rows.
void chunkLogits(const float *x, const float *w, float *z, int64_t rows,
                 int64_t C, int64_t V) {
  gemm(false, true, rows, V, C, 1.0f, x, C, w, C, 0.0f, z, V, GemmInputs::F32);
}

} // namespace

void crossEntropy(const float *logits,    // [rows, V]
                  const int32_t *targets, // [rows]
                  float *loss,            // [1]
                  int64_t rows, int64_t V, int32_t ignoreIndex) {
  double *losses = static_cast<double *>(
      scratch(Scratch::LossRows, size_t(rows) * sizeof(double)));
  if (rows > 0)
    rowLosses<false>(logits, targets, losses, rows, V, 0.0f, ignoreIndex);
  meanLoss(losses, targets, loss, rows, ignoreIndex);
}

void lmHeadLoss(const float *x,         // [rows, C]
                const float *w,         // [V, C]
                const int32_t *targets, // [rows]
                float *loss,            // [1]
                int64_t rows, int64_t C, int64_t V, float cap,
                int32_t ignoreIndex) {
  const int64_t chunkRows = rows < kChunkRows ? rows : kChunkRows;
  float *logits = static_cast<float *>(
      scratch(Scratch::Logits, size_t(chunkRows * V) * sizeof(float)));
  double *losses = static_cast<double *>(
      scratch(Scratch::LossRows, size_t(rows) * sizeof(double)));
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    const int64_t chunk = rows - r0 < kChunkRows ? rows - r0 : kChunkRows;
    chunkLogits(x + r0 * C, w, logits, chunk, C, V);
    rowLosses<true>(logits, targets + r0, losses + r0, chunk, V, cap,
                    ignoreIndex);
  }
  meanLoss(losses, targets, loss, rows, ignoreIndex);
}

void lmHeadLossBackward(const float *x,         // [rows, C]
                        const float *w,         // [V, C]
                        const int32_t *targets, // [rows]
                        const float *dloss,     // [1]
                        float *dx,              // [rows, C]
                        float *dw,              // [V, C]
                        int64_t rows, int64_t C, int64_t V, float cap,
                        int32_t ignoreIndex) {
  if (rows == 0) {
    fill(dw, V * C, 0.0f);
    return;
  }
  const int64_t chunkRows = rows < kChunkRows ? rows : kChunkRows;
  const size_t chunkBytes = size_t(chunkRows * V) * sizeof(float);
  float *logits = static_cast<float *>(scratch(Scratch::Logits, chunkBytes));
  float *dlogits =
      static_cast<float *>(scratch(Scratch::LogitsGrad, chunkBytes));
  float *rowFactor =
      static_cast<float *>(scratch(Scratch::LossRows, sizeof(float)));
  launch("lossGradientScale", &lossGradientScaleKernel, dim3(1),
         dim3(kReductionThreads), 0, targets, dloss, rowFactor, rows,
         ignoreIndex);
  const bool vectorized = vectorRows(logits, V) && vectorRows(dlogits, V);
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    const int64_t chunk = rows - r0 < kChunkRows ? rows - r0 : kChunkRows;
    chunkLogits(x + r0 * C, w, logits, chunk, C, V);
    if (vectorized)
      launch("lmHeadGradient", &lmHeadGradientKernel<4>, dim3(unsigned(chunk)),
             dim3(rowThreads(V)), 0, logits, targets + r0, rowFactor, dlogits,
             V, cap, ignoreIndex);
    else
      launch("lmHeadGradient", &lmHeadGradientKernel<1>, dim3(unsigned(chunk)),
             dim3(rowThreads(V)), 0, logits, targets + r0, rowFactor, dlogits,
             V, cap, ignoreIndex);
    // dx = dz · w for the chunk's rows; dw += dzᵀ · x (= on the first).
    gemm(false, false, chunk, C, V, 1.0f, dlogits, V, w, C, 0.0f, dx + r0 * C,
         C, GemmInputs::F32);
    gemm(true, false, V, C, chunk, 1.0f, dlogits, V, x + r0 * C, C,
         r0 == 0 ? 0.0f : 1.0f, dw, C, GemmInputs::F32);
  }
}

} // namespace gptc::cuda
