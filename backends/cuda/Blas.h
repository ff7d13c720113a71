//===- Blas.h - matrix products through cuBLASLt ----------------*- C++ -*-===//
//
// The one GEMM entry point of the CUDA runtime. BlasCublasLt.cu implements
// it with cuBLASLt (descriptors and heuristics cached per shape);
// BlasEmulator.cpp with a plain host loop for the emulator build.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_BLAS_H
#define GPTC_BACKENDS_CUDA_BLAS_H

#include <cstdint>

namespace gptc::cuda {

/// Element type of a GEMM's A and B; accumulation and C are always fp32.
enum class GemmInputs { F32, Bf16 };

/// C = alpha · op(A) · op(B) + beta · C, all row-major. op(A) is [m, k]: A
/// is stored [m, k] with row stride lda, or with transA [k, m]. op(B) is
/// [k, n]: B is [k, n] with row stride ldb, or with transB [n, k]. C is
/// [m, n] fp32 with row stride ldc. A and B are float or, for Bf16, bf16
/// bits (uint16_t). Runs on gptc's stream.
void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
          float alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
          float beta, float *c, int64_t ldc, GemmInputs inputs);

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_BLAS_H
