//===- AttentionUnfused.cu - attention as scores, mask, softmax, apply ----===//
//
// The unfused attention ops, used when attention fusion is off: the two
// products are one GEMM per (batch, head), with strides that pick the head
// out of the [B, T, H, D] layouts; mask and softmax are warp-per-row
// kernels.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Blas.h"
#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/kernels/Softmax.cuh"

namespace gptc::cuda {

using namespace kernels;

void attnScores(const float *q, // [B, T, H, D]
                const float *k, // [B, T, Hkv, D]
                float *s,       // [B, H, T, T]
                int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                float scale) {
  const int64_t group = H / Hkv;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const float *qHead = q + (b * T * H + h) * D;
      const float *kHead = k + (b * T * Hkv + h / group) * D;
      gemm(false, true, T, T, D, scale, qHead, H * D, kHead, Hkv * D, 0.0f,
           s + (b * H + h) * T * T, T, GemmInputs::F32);
    }
  }
}

void causalMask(const float *x, // [rows, T, T]
                float *y,       // [rows, T, T]
                int64_t rows, int64_t T) {
  if (rows == 0 || T == 0)
    return;
  if (T % 4 == 0 && isVectorAligned(x) && isVectorAligned(y))
    launch("causalMask", &causalMaskKernel<4>, warpPerRowBlocks(rows * T),
           dim3(kBlockThreads), 0, x, y, rows, T);
  else
    launch("causalMask", &causalMaskKernel<1>, warpPerRowBlocks(rows * T),
           dim3(kBlockThreads), 0, x, y, rows, T);
}

void softmax(const float *x, // [rows, cols]
             float *y,       // [rows, cols]
             int64_t rows, int64_t cols) {
  if (rows == 0)
    return;
  if (cols % 4 == 0 && isVectorAligned(x) && isVectorAligned(y))
    launch("softmax", &softmaxKernel<4>, warpPerRowBlocks(rows),
           dim3(kBlockThreads), 0, x, y, rows, cols);
  else
    launch("softmax", &softmaxKernel<1>, warpPerRowBlocks(rows),
           dim3(kBlockThreads), 0, x, y, rows, cols);
}

void attnApply(const float *p, // [B, H, T, T]
               const float *v, // [B, T, Hkv, D]
               float *o,       // [B, T, H, D]
               int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D) {
  const int64_t group = H / Hkv;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const float *vHead = v + (b * T * Hkv + h / group) * D;
      gemm(false, false, T, D, T, 1.0f, p + (b * H + h) * T * T, T, vHead,
           Hkv * D, 0.0f, o + (b * T * H + h) * D, H * D, GemmInputs::F32);
    }
  }
}

} // namespace gptc::cuda
