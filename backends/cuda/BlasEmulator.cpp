//===- BlasEmulator.cpp - gemm on the host for the emulator build ---------===//
//
// gptc::cuda::gemm as plain loops over host memory: each row of C gathers
// its row of op(A) into a float buffer, then either takes dot products
// with the rows of B (transB: contiguous) or adds multiples of the rows of
// B (contiguous otherwise); both loops vectorise. Products of bf16 inputs
// are exact in float, and every sum is in float, as on the tensor cores.
// The work goes through the emulated stream, so a captured graph records
// it like the cuBLASLt call it stands for.
//
//===----------------------------------------------------------------------===//

#include "backends/common/BFloat16.h"
#include "backends/cuda/Blas.h"
#include "backends/cuda/Emulator.h"

#include <algorithm>
#include <vector>

namespace gptc::cuda {
namespace {

inline float widen(float value) { return value; }
inline float widen(uint16_t bits) { return bf16ToF32(bits); }

/// c[m, n] = alpha · op(a)[m, k] · op(b)[k, n] + beta · c, with a and b of
/// element type T (float, or uint16_t bf16 bits). c is only read when beta
/// is nonzero.
template <typename T>
void gemmOnHost(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
                float alpha, const T *a, int64_t lda, const T *b, int64_t ldb,
                float beta, float *c, int64_t ldc) {
#pragma omp parallel
  {
    std::vector<float> aRow(k), sums(n);
#pragma omp for
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t p = 0; p < k; ++p)
        aRow[p] = widen(transA ? a[p * lda + i] : a[i * lda + p]);
      if (transB) {
        for (int64_t j = 0; j < n; ++j) {
          const T *bRow = b + j * ldb; // op(b)[:, j]
          float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
          for (int64_t p = 0; p < k; ++p)
            sum += aRow[p] * widen(bRow[p]);
          sums[j] = sum;
        }
      } else {
        std::fill(sums.begin(), sums.end(), 0.0f);
        for (int64_t p = 0; p < k; ++p) {
          const T *bRow = b + p * ldb; // op(b)[p, :]
          const float factor = aRow[p];
#pragma omp simd
          for (int64_t j = 0; j < n; ++j)
            sums[j] += factor * widen(bRow[j]);
        }
      }
      float *cRow = c + i * ldc;
      for (int64_t j = 0; j < n; ++j)
        cRow[j] = alpha * sums[j] + (beta == 0.0f ? 0.0f : beta * cRow[j]);
    }
  }
}

} // namespace

void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
          float alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
          float beta, float *c, int64_t ldc, GemmInputs inputs) {
  emulatorEnqueue([=] {
    if (inputs == GemmInputs::Bf16)
      gemmOnHost(transA, transB, m, n, k, alpha,
                 static_cast<const uint16_t *>(a), lda,
                 static_cast<const uint16_t *>(b), ldb, beta, c, ldc);
    else
      gemmOnHost(transA, transB, m, n, k, alpha, static_cast<const float *>(a),
                 lda, static_cast<const float *>(b), ldb, beta, c, ldc);
  });
}

} // namespace gptc::cuda
