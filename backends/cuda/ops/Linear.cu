//===- Linear.cu - linear and its gradient, in fp32 and on bf16 inputs ----===//
//
// Every product is one cuBLASLt GEMM (row-major, fp32 accumulation and
// output). The bf16 variants first round their float operands to bfloat16
// into scratch buffers with one conversion kernel each; cuBLASLt then runs
// them on the tensor cores.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Blas.h"
#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/Workspace.h"
#include "backends/cuda/kernels/Elementwise.cuh"
#include "backends/cuda/ops/Convert.h"

namespace gptc::cuda {
namespace {

using namespace kernels;

/// x[n] rounded to bfloat16 (ties to even) into scratch slot `slot`.
const uint16_t *toBf16(const float *x, int64_t n, Scratch slot) {
  auto *bf16 =
      static_cast<uint16_t *>(scratch(slot, size_t(n) * sizeof(uint16_t)));
  convertToBf16(x, bf16, n);
  return bf16;
}

} // namespace

void linear(const float *x, // [rows, in]
            const float *w, // [out, in]
            float *y,       // [rows, out]
            int64_t rows, int64_t in, int64_t out) {
  gemm(false, true, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out,
       GemmInputs::F32);
}

void linearBf16(const float *x, // [rows, in]
                const float *w, // [out, in]
                float *y,       // [rows, out]
                int64_t rows, int64_t in, int64_t out) {
  const uint16_t *xBf16 = toBf16(x, rows * in, Scratch::GemmA); // [rows, in]
  const uint16_t *wBf16 = toBf16(w, out * in, Scratch::GemmB);  // [out, in]
  gemm(false, true, rows, out, in, 1.0f, xBf16, in, wBf16, in, 0.0f, y, out,
       GemmInputs::Bf16);
}

void linearBackward(const float *dy, // [rows, out]
                    const float *x,  // [rows, in]
                    const float *w,  // [out, in]
                    float *dx,       // [rows, in]
                    float *dw,       // [out, in]
                    int64_t rows, int64_t in, int64_t out) {
  gemm(false, false, rows, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in,
       GemmInputs::F32);
  gemm(true, false, out, in, rows, 1.0f, dy, out, x, in, 0.0f, dw, in,
       GemmInputs::F32);
}

void linearBackwardBf16(const float *dy, // [rows, out]
                        const float *x,  // [rows, in]
                        const float *w,  // [out, in]
                        float *dx,       // [rows, in]
                        float *dw,       // [out, in]
                        int64_t rows, int64_t in, int64_t out) {
  const uint16_t *dyBf16 = toBf16(dy, rows * out, Scratch::GemmA);
  // dx = dy · w, then x takes w's buffer (the stream runs the GEMM first)
  // for dw = dyᵀ · x.
  const uint16_t *wBf16 = toBf16(w, out * in, Scratch::GemmB);
  gemm(false, false, rows, in, out, 1.0f, dyBf16, out, wBf16, in, 0.0f, dx, in,
       GemmInputs::Bf16);
  const uint16_t *xBf16 = toBf16(x, rows * in, Scratch::GemmB);
  gemm(true, false, out, in, rows, 1.0f, dyBf16, out, xBf16, in, 0.0f, dw, in,
       GemmInputs::Bf16);
}

} // namespace gptc::cuda
