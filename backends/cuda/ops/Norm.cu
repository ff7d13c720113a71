//===- Norm.cu - rmsNorm and its gradient ---------------------------------===//

#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/kernels/Norm.cuh"

namespace gptc::cuda {

using namespace kernels;

void rmsNorm(const float *x, // [rows, cols]
             float *y,       // [rows, cols]
             int64_t rows, int64_t cols, float eps) {
  if (rows == 0)
    return;
  if (cols % 4 == 0 && isVectorAligned(x) && isVectorAligned(y))
    launch("rmsNorm", &rmsNormKernel<4>, warpPerRowBlocks(rows),
           dim3(kBlockThreads), 0, x, y, rows, cols, eps);
  else
    launch("rmsNorm", &rmsNormKernel<1>, warpPerRowBlocks(rows),
           dim3(kBlockThreads), 0, x, y, rows, cols, eps);
}

void rmsNormBackward(const float *x,  // [rows, cols]
                     const float *dy, // [rows, cols]
                     float *dx,       // [rows, cols]
                     int64_t rows, int64_t cols, float eps) {
  if (rows == 0)
    return;
  if (cols % 4 == 0 && isVectorAligned(x) && isVectorAligned(dy) &&
      isVectorAligned(dx))
    launch("rmsNormBackward", &rmsNormBackwardKernel<4>, warpPerRowBlocks(rows),
           dim3(kBlockThreads), 0, x, dy, dx, rows, cols, eps);
  else
    launch("rmsNormBackward", &rmsNormBackwardKernel<1>, warpPerRowBlocks(rows),
           dim3(kBlockThreads), 0, x, dy, dx, rows, cols, eps);
}

} // namespace gptc::cuda
