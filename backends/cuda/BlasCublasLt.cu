//===- BlasCublasLt.cu - gemm through cuBLASLt ----------------------------===//
//
// gptc::cuda::gemm on the GPU. cuBLASLt is column-major; a row-major [m, n]
// C is the column-major [n, m] matrix Cᵀ = op(B)ᵀ · op(A)ᵀ, so the call
// swaps the operands: cuBLASLt's A is our B and its B our A, each with the
// same transpose flag and leading dimension. Compute and scale types are
// fp32; A and B are fp32 or bf16, C fp32.
//
// Building a matmul descriptor and asking the heuristic for an algorithm
// costs far more than a small GEMM, so both are cached per shape: sizes,
// transposes, leading dimensions, input type and the alignment of the three
// pointers (the heuristic may otherwise pick a kernel that needs more
// alignment than an offset view of a buffer has). A model has a few dozen
// shapes. Every call runs on gptc's stream with a 32 MiB workspace from the
// scratch buffers; a failure prints the GEMM's shape and exits.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Blas.h"
#include "backends/cuda/Launch.h"
#include "backends/cuda/Workspace.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <tuple>

#include <cublasLt.h>

namespace gptc::cuda {
namespace {

/// cuBLASLt's workspace: what its heuristics ask for large GEMMs on Hopper.
constexpr size_t kWorkspaceBytes = 32u << 20;

struct GemmShape {
  int64_t m, n, k, lda, ldb, ldc;
  bool transA, transB;
  GemmInputs inputs;
  /// The largest power of two (up to 256) that divides each address.
  uint32_t alignA, alignB, alignC;

  bool operator<(const GemmShape &other) const {
    return std::tie(m, n, k, lda, ldb, ldc, transA, transB, inputs, alignA,
                    alignB, alignC) <
           std::tie(other.m, other.n, other.k, other.lda, other.ldb, other.ldc,
                    other.transA, other.transB, other.inputs, other.alignA,
                    other.alignB, other.alignC);
  }
};

/// Exits with a message naming `call` and the GEMM unless `status` is
/// success.
void checkCublas(cublasStatus_t status, const char *call,
                 const GemmShape &shape) {
  if (status == CUBLAS_STATUS_SUCCESS)
    return;
  std::fprintf(stderr,
               "error: cuBLASLt %s failed (%s) for the %s GEMM m=%lld n=%lld "
               "k=%lld%s%s\n",
               call, cublasLtGetStatusName(status),
               shape.inputs == GemmInputs::Bf16 ? "bf16" : "fp32",
               static_cast<long long>(shape.m), static_cast<long long>(shape.n),
               static_cast<long long>(shape.k), shape.transA ? " A^T" : "",
               shape.transB ? " B^T" : "");
  std::exit(1);
}

uint32_t alignmentOf(const void *pointer) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  uint32_t alignment = 256;
  while (address % alignment != 0)
    alignment /= 2;
  return alignment;
}

/// The one cuBLASLt handle, created by the first GEMM.
cublasLtHandle_t handle(const GemmShape &shape) {
  static cublasLtHandle_t instance = [&shape] {
    cublasLtHandle_t created;
    checkCublas(cublasLtCreate(&created), "cublasLtCreate", shape);
    return created;
  }();
  return instance;
}

/// A column-major layout of rows × cols elements with leading dimension ld.
cublasLtMatrixLayout_t layout(cudaDataType_t type, int64_t rows, int64_t cols,
                              int64_t ld, const GemmShape &shape) {
  cublasLtMatrixLayout_t created;
  checkCublas(cublasLtMatrixLayoutCreate(&created, type, uint64_t(rows),
                                         uint64_t(cols), ld),
              "cublasLtMatrixLayoutCreate", shape);
  return created;
}

/// What a cached GEMM shape runs with.
struct Plan {
  cublasLtMatmulDesc_t operation;
  cublasLtMatrixLayout_t a, b, c; // cuBLASLt's A, B and C (= D)
  cublasLtMatmulAlgo_t algorithm;
};

/// The plan of `shape`, made at its first use and kept for the process.
const Plan &planFor(const GemmShape &shape) {
  static std::map<GemmShape, Plan> plans;
  auto cached = plans.find(shape);
  if (cached != plans.end())
    return cached->second;

  Plan plan;
  checkCublas(
      cublasLtMatmulDescCreate(&plan.operation, CUBLAS_COMPUTE_32F, CUDA_R_32F),
      "cublasLtMatmulDescCreate", shape);
  // Swapped operands: cuBLASLt's A is our B, its B our A.
  const cublasOperation_t transposeA = shape.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t transposeB = shape.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  checkCublas(cublasLtMatmulDescSetAttribute(plan.operation,
                                             CUBLASLT_MATMUL_DESC_TRANSA,
                                             &transposeA, sizeof(transposeA)),
              "cublasLtMatmulDescSetAttribute(TRANSA)", shape);
  checkCublas(cublasLtMatmulDescSetAttribute(plan.operation,
                                             CUBLASLT_MATMUL_DESC_TRANSB,
                                             &transposeB, sizeof(transposeB)),
              "cublasLtMatmulDescSetAttribute(TRANSB)", shape);

  // Column-major views of the row-major operands: our B [k, n] (or [n, k])
  // is cuBLASLt's n × k (k × n) A, our A [m, k] ([k, m]) its k × m (m × k)
  // B, and C [m, n] its n × m C.
  const cudaDataType_t inputType =
      shape.inputs == GemmInputs::Bf16 ? CUDA_R_16BF : CUDA_R_32F;
  plan.a = shape.transB ? layout(inputType, shape.k, shape.n, shape.ldb, shape)
                        : layout(inputType, shape.n, shape.k, shape.ldb, shape);
  plan.b = shape.transA ? layout(inputType, shape.m, shape.k, shape.lda, shape)
                        : layout(inputType, shape.k, shape.m, shape.lda, shape);
  plan.c = layout(CUDA_R_32F, shape.n, shape.m, shape.ldc, shape);

  cublasLtMatmulPreference_t preference;
  checkCublas(cublasLtMatmulPreferenceCreate(&preference),
              "cublasLtMatmulPreferenceCreate", shape);
  const uint64_t workspaceBytes = kWorkspaceBytes;
  const struct {
    cublasLtMatmulPreferenceAttributes_t attribute;
    uint32_t bytes;
  } alignments[] = {{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, shape.alignB},
                    {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, shape.alignA},
                    {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, shape.alignC},
                    {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, shape.alignC}};
  checkCublas(cublasLtMatmulPreferenceSetAttribute(
                  preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                  &workspaceBytes, sizeof(workspaceBytes)),
              "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)",
              shape);
  for (const auto &alignment : alignments)
    checkCublas(cublasLtMatmulPreferenceSetAttribute(
                    preference, alignment.attribute, &alignment.bytes,
                    sizeof(alignment.bytes)),
                "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)", shape);

  cublasLtMatmulHeuristicResult_t result;
  int algorithms = 0;
  checkCublas(cublasLtMatmulAlgoGetHeuristic(
                  handle(shape), plan.operation, plan.a, plan.b, plan.c, plan.c,
                  preference, 1, &result, &algorithms),
              "cublasLtMatmulAlgoGetHeuristic", shape);
  if (algorithms == 0)
    checkCublas(CUBLAS_STATUS_NOT_SUPPORTED, "cublasLtMatmulAlgoGetHeuristic",
                shape);
  checkCublas(cublasLtMatmulPreferenceDestroy(preference),
              "cublasLtMatmulPreferenceDestroy", shape);
  plan.algorithm = result.algo;
  return plans.emplace(shape, plan).first->second;
}

/// c[m, n] = beta · c: the product of an empty sum (k = 0), which cuBLASLt
/// does not take.
__global__ void scaleMatrixKernel(float *c, // [m, ldc]
                                  int64_t m, int64_t n, int64_t ldc,
                                  float beta) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < m * n;
       i += stride) {
    float *element = c + (i / n) * ldc + i % n;
    *element = beta == 0.0f ? 0.0f : beta * *element;
  }
}

} // namespace

void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
          float alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
          float beta, float *c, int64_t ldc, GemmInputs inputs) {
  if (m == 0 || n == 0)
    return;
  if (k == 0) {
    constexpr int kThreads = 256;
    const int64_t blocks = (m * n + kThreads - 1) / kThreads;
    launch("gemm (k = 0)", &scaleMatrixKernel,
           dim3(unsigned(blocks < 1024 ? blocks : 1024)), dim3(kThreads), 0, c,
           m, n, ldc, beta);
    return;
  }
  const GemmShape shape = {m,
                           n,
                           k,
                           lda,
                           ldb,
                           ldc,
                           transA,
                           transB,
                           inputs,
                           alignmentOf(a),
                           alignmentOf(b),
                           alignmentOf(c)};
  const Plan &plan = planFor(shape);
  void *workspace = scratch(Scratch::BlasWorkspace, kWorkspaceBytes);
  checkCublas(cublasLtMatmul(handle(shape), plan.operation, &alpha, b, plan.a,
                             a, plan.b, &beta, c, plan.c, c, plan.c,
                             &plan.algorithm, workspace, kWorkspaceBytes,
                             stream()),
              "cublasLtMatmul", shape);
}

} // namespace gptc::cuda
