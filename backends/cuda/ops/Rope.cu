//===- Rope.cu - rotary position embedding --------------------------------===//

#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/kernels/Rope.cuh"

namespace gptc::cuda {

using namespace kernels;

void rope(const float *x, // [B, T, H, D]
          float *y,       // [B, T, H, D]
          int64_t B, int64_t T, int64_t H, int64_t D, float base,
          int32_t roundBf16, int32_t inverse) {
  if (B == 0 || T == 0 || H == 0 || D == 0)
    return;
  launch("rope", &ropeKernel, dim3(unsigned(T), unsigned(B)), ropeBlock(H, D),
         0, x, nullptr, y, T, H, D, base, roundBf16, inverse);
}

} // namespace gptc::cuda
