//===- Loss.cu - cross-entropy and the fused lm_head losses ---------------===//
//
// crossEntropy reduces each row of the given logits to its loss with one
// block per row, then averages the rows in one block. The lm_head losses
// never hold more than kChunkRows rows of logits: per chunk, cuBLASLt makes
// the logits, and the row kernel soft-caps and reduces them (forward) or
// turns them into their gradient dz, which two more GEMMs consume at once:
// dx for the chunk's rows, and dw accumulated over the chunks. The *Bf16
// variants run the same chunks with the GEMMs on bfloat16 inputs: w rounded
// once per call, each chunk's x and dz as they come, into scratch buffers.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Blas.h"
#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/Workspace.h"
#include "backends/cuda/kernels/Loss.cuh"
#include "backends/cuda/ops/Convert.h"

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

/// A GEMM operand x[n] as `inputs` takes it: x itself, or for Bf16 x
/// rounded to bfloat16 (ties to even) into scratch slot `slot`.
const void *gemmOperand(const float *x, int64_t n, GemmInputs inputs,
                        Scratch slot) {
  if (inputs == GemmInputs::F32)
    return x;
  auto *bf16 =
      static_cast<uint16_t *>(scratch(slot, size_t(n) * sizeof(uint16_t)));
  convertToBf16(x, bf16, n);
  return bf16;
}

/// z[rows, V] = x[rows, C] · w[V, C]ᵀ, x and w as gemmOperand gives them:
/// the logits of a chunk of rows.
void chunkLogits(const void *x, const void *w, float *z, int64_t rows,
                 int64_t C, int64_t V, GemmInputs inputs) {
  gemm(false, true, rows, V, C, 1.0f, x, C, w, C, 0.0f, z, V, inputs);
}

/// lmHeadLoss, with the logits' GEMM on `inputs`.
void lmHeadLossChunked(const float *x,         // [rows, C]
                       const float *w,         // [V, C]
                       const int32_t *targets, // [rows]
                       float *loss,            // [1]
                       int64_t rows, int64_t C, int64_t V, float cap,
                       int32_t ignoreIndex, GemmInputs inputs) {
  const int64_t chunkRows = rows < kChunkRows ? rows : kChunkRows;
  float *logits = static_cast<float *>(
      scratch(Scratch::Logits, size_t(chunkRows * V) * sizeof(float)));
  double *losses = static_cast<double *>(
      scratch(Scratch::LossRows, size_t(rows) * sizeof(double)));
  const void *wOperand = gemmOperand(w, V * C, inputs, Scratch::GemmB);
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    const int64_t chunk = rows - r0 < kChunkRows ? rows - r0 : kChunkRows;
    const void *xOperand =
        gemmOperand(x + r0 * C, chunk * C, inputs, Scratch::GemmA);
    chunkLogits(xOperand, wOperand, logits, chunk, C, V, inputs);
    rowLosses<true>(logits, targets + r0, losses + r0, chunk, V, cap,
                    ignoreIndex);
  }
  meanLoss(losses, targets, loss, rows, ignoreIndex);
}

/// lmHeadLossBackward, with its GEMMs on `inputs`.
void lmHeadLossBackwardChunked(const float *x,         // [rows, C]
                               const float *w,         // [V, C]
                               const int32_t *targets, // [rows]
                               const float *dloss,     // [1]
                               float *dx,              // [rows, C]
                               float *dw,              // [V, C]
                               int64_t rows, int64_t C, int64_t V, float cap,
                               int32_t ignoreIndex, GemmInputs inputs) {
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
  const void *wOperand = gemmOperand(w, V * C, inputs, Scratch::GemmB);
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    const int64_t chunk = rows - r0 < kChunkRows ? rows - r0 : kChunkRows;
    const void *xOperand =
        gemmOperand(x + r0 * C, chunk * C, inputs, Scratch::GemmA);
    chunkLogits(xOperand, wOperand, logits, chunk, C, V, inputs);
    if (vectorized)
      launch("lmHeadGradient", &lmHeadGradientKernel<4>, dim3(unsigned(chunk)),
             dim3(rowThreads(V)), 0, logits, targets + r0, rowFactor, dlogits,
             V, cap, ignoreIndex);
    else
      launch("lmHeadGradient", &lmHeadGradientKernel<1>, dim3(unsigned(chunk)),
             dim3(rowThreads(V)), 0, logits, targets + r0, rowFactor, dlogits,
             V, cap, ignoreIndex);
    // dx = dz · w for the chunk's rows; dw += dzᵀ · x (= on the first).
    const void *dzOperand =
        gemmOperand(dlogits, chunk * V, inputs, Scratch::LogitsGradBf16);
    gemm(false, false, chunk, C, V, 1.0f, dzOperand, V, wOperand, C, 0.0f,
         dx + r0 * C, C, inputs);
    gemm(true, false, V, C, chunk, 1.0f, dzOperand, V, xOperand, C,
         r0 == 0 ? 0.0f : 1.0f, dw, C, inputs);
  }
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
  lmHeadLossChunked(x, w, targets, loss, rows, C, V, cap, ignoreIndex,
                    GemmInputs::F32);
}

void lmHeadLossBf16(const float *x,         // [rows, C]
                    const float *w,         // [V, C]
                    const int32_t *targets, // [rows]
                    float *loss,            // [1]
                    int64_t rows, int64_t C, int64_t V, float cap,
                    int32_t ignoreIndex) {
  lmHeadLossChunked(x, w, targets, loss, rows, C, V, cap, ignoreIndex,
                    GemmInputs::Bf16);
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
                            ignoreIndex, GemmInputs::F32);
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
                            ignoreIndex, GemmInputs::Bf16);
}

} // namespace gptc::cuda
