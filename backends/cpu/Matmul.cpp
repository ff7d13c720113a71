//===- Matmul.cpp - GEMM-based kernels: linear and unfused attention ------===//
//
// linear, its gradient, attnScores and attnApply are single-precision GEMMs
// with strides, computed by oneDNN's row-major sgemm (which threads with
// OpenMP itself).
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Gemm.h"
#include "backends/cpu/Kernels.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <dnnl.h>

namespace gptc::cpu {

void sgemm(char transA, char transB, int64_t m, int64_t n, int64_t k,
           float alpha, const float *a, int64_t lda, const float *b,
           int64_t ldb, float beta, float *c, int64_t ldc) {
  // With nothing to sum oneDNN leaves c alone (for op(a) = aᵀ at least);
  // the product is then 0 and c becomes beta · c.
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  // oneDNN wants leading dimensions >= 1 even for empty matrices, whose
  // leading dimension is never used.
  auto leading = [](int64_t ld) { return std::max<int64_t>(ld, 1); };
  dnnl_status_t status =
      dnnl_sgemm(transA, transB, m, n, k, alpha, a, leading(lda), b,
                 leading(ldb), beta, c, leading(ldc));
  if (status != dnnl_success) {
    std::fprintf(stderr,
                 "gptc runtime: dnnl_sgemm(m=%lld, n=%lld, k=%lld) failed "
                 "with status %d\n",
                 static_cast<long long>(m), static_cast<long long>(n),
                 static_cast<long long>(k), static_cast<int>(status));
    std::abort();
  }
}

/// y[rows, out] = x · wᵀ for a handful of rows (decoding): one pass over the
/// weights, each output a dot product of a contiguous weight row with the
/// rows of x, four outputs at a time so that x is reused from registers.
static void gemvRows(const float *x, // [rows, in]
                     const float *w, // [out, in]
                     float *y,       // [rows, out]
                     int64_t rows, int64_t in, int64_t out) {
  constexpr int64_t kOutputs = 4;
  const int64_t blocks = (out + kOutputs - 1) / kOutputs;
#pragma omp parallel for schedule(static) if (out * in >= kParallelThreshold)
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t first = block * kOutputs;
    const int64_t count = std::min(kOutputs, out - first);
    for (int64_t r = 0; r < rows; ++r) {
      const float *xRow = x + r * in;
      float sums[kOutputs] = {0, 0, 0, 0};
      for (int64_t o = 0; o < count; ++o) {
        const float *wRow = w + (first + o) * in;
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < in; ++i)
          sum += xRow[i] * wRow[i];
        sums[o] = sum;
      }
      for (int64_t o = 0; o < count; ++o)
        y[r * out + first + o] = sums[o];
    }
  }
}

void linear(const float *x, // [rows, in]
            const float *w, // [out, in]
            float *y,       // [rows, out]
            int64_t rows, int64_t in, int64_t out) {
  // A decode step has one row per sequence: stream the weights once instead
  // of packing them for a GEMM.
  if (rows <= 4) {
    gemvRows(x, w, y, rows, in, out);
    return;
  }
  sgemm('N', 'T', rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
}

void linearBackward(const float *dy, // [rows, out]
                    const float *x,  // [rows, in]
                    const float *w,  // [out, in]
                    float *dx,       // [rows, in]
                    float *dw,       // [out, in]
                    int64_t rows, int64_t in, int64_t out) {
  sgemm('N', 'N', rows, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
  sgemm('T', 'N', out, in, rows, 1.0f, dy, out, x, in, 0.0f, dw, in);
}

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
      sgemm('N', 'T', T, T, D, scale, qHead, H * D, kHead, Hkv * D, 0.0f,
            s + (b * H + h) * T * T, T);
    }
  }
}

void attnApply(const float *p, // [B, H, T, T]
               const float *v, // [B, T, Hkv, D]
               float *o,       // [B, T, H, D]
               int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D) {
  const int64_t group = H / Hkv;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const float *vHead = v + (b * T * Hkv + h / group) * D;
      sgemm('N', 'N', T, D, T, 1.0f, p + (b * H + h) * T * T, T, vHead, Hkv * D,
            0.0f, o + (b * T * H + h) * D, H * D);
    }
  }
}

} // namespace gptc::cpu
