//===- Gemm.h - the runtime's single-precision GEMM -------------*- C++ -*-===//
//
// Private to the CPU kernels: the oneDNN sgemm call that the GEMM-based
// kernels (linear, unfused attention, the lm_head losses) share.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_GEMM_H
#define GPTC_BACKENDS_CPU_GEMM_H

#include <cstdint>

namespace gptc::cpu {

/// c[m, n] = alpha · op(a) · op(b) + beta · c with row-major leading
/// dimensions; op(a) is [m, k] and op(b) is [k, n], transposed in memory
/// when trans is 'T'. With beta = 0, c is only written. oneDNN's sgemm,
/// which threads with OpenMP itself; a call oneDNN rejects is a caller bug
/// and aborts.
void sgemm(char transA, char transB, int64_t m, int64_t n, int64_t k,
           float alpha, const float *a, int64_t lda, const float *b,
           int64_t ldb, float beta, float *c, int64_t ldc);

} // namespace gptc::cpu

#endif // GPTC_BACKENDS_CPU_GEMM_H
