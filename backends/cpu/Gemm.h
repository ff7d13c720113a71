//===- Gemm.h - the runtime's single-precision GEMM -------------*- C++ -*-===//
//
// Private to the CPU kernels: the oneDNN sgemm call that the GEMM-based
// kernels (linear, unfused attention, the lm_head losses) share, and the
// bfloat16 matmul of their *Bf16 variants (MatmulBf16.cpp).
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

/// bf16[n] = x[n] rounded to bfloat16 (ties to even), as the bits that
/// gptc::f32ToBf16 gives.
void toBf16(const float *x, uint16_t *bf16, int64_t n);

/// c[m, n] = op(a) · op(b), or c += op(a) · op(b) with accumulate, with a
/// and b bfloat16 (toBf16's bits) and c float, all contiguous row-major:
/// op(a) is [m, k], stored [k, m] with transA, and op(b) is [k, n], stored
/// [n, k] with transB. The products are summed in float by oneDNN's matmul
/// primitive, created once per shape and thread count.
void gemmBf16(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
              const uint16_t *a, const uint16_t *b, float *c, bool accumulate);

} // namespace gptc::cpu

#endif // GPTC_BACKENDS_CPU_GEMM_H
