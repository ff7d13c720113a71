//===- Norm.cuh - RMS normalisation and its gradient ------------*- C++ -*-===//
//
// One warp per row: the lanes stride over the row (as float4 when Width is
// 4: cols % 4 == 0 and 16-byte aligned buffers), sum in double, combine the
// sums with shuffles and make a second pass that writes the row, whose
// reads hit the cache lines of the first.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_NORM_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_NORM_CUH

#include "backends/cuda/kernels/Common.cuh"

namespace gptc::cuda::kernels {

/// 1 / sqrt(mean(x²) + eps) of a row of `cols` elements whose squares sum to
/// `sumSquares`.
__device__ __forceinline__ double inverseRms(double sumSquares, int64_t cols,
                                             float eps) {
  return 1.0 / sqrt(sumSquares / double(cols) + eps);
}

template <int Width>
__global__ void __launch_bounds__(kBlockThreads)
    rmsNormKernel(const float *__restrict__ x, // [rows, cols]
                  float *__restrict__ y,       // [rows, cols]
                  int64_t rows, int64_t cols, float eps) {
  const int64_t row = globalWarp();
  if (row >= rows)
    return;
  const int lane = threadIdx.x % kWarpSize;
  const float *xRow = x + row * cols;
  float *yRow = y + row * cols;
  const int64_t chunks = cols / Width;
  double sumSquares = 0.0;
  for (int64_t c = lane; c < chunks; c += kWarpSize) {
    const Floats<Width> v = loadFloats<Width>(xRow, c);
    for (int k = 0; k < Width; ++k)
      sumSquares += double(v.value[k]) * double(v.value[k]);
  }
  const float rowScale = float(inverseRms(warpSum(sumSquares), cols, eps));
  for (int64_t c = lane; c < chunks; c += kWarpSize) {
    Floats<Width> v = loadFloats<Width>(xRow, c);
    for (int k = 0; k < Width; ++k)
      v.value[k] *= rowScale;
    storeFloats<Width>(yRow, c, v);
  }
}

/// dx = r·dy − r³·mean(dy∘x)·x with r = 1/sqrt(mean(x²) + eps), which is
/// r·(dy − y·mean(dy∘y)) for y = x·r.
template <int Width>
__global__ void __launch_bounds__(kBlockThreads)
    rmsNormBackwardKernel(const float *__restrict__ x,  // [rows, cols]
                          const float *__restrict__ dy, // [rows, cols]
                          float *__restrict__ dx,       // [rows, cols]
                          int64_t rows, int64_t cols, float eps) {
  const int64_t row = globalWarp();
  if (row >= rows)
    return;
  const int lane = threadIdx.x % kWarpSize;
  const float *xRow = x + row * cols;
  const float *dyRow = dy + row * cols;
  float *dxRow = dx + row * cols;
  const int64_t chunks = cols / Width;
  double sumSquares = 0.0, sumProducts = 0.0;
  for (int64_t c = lane; c < chunks; c += kWarpSize) {
    const Floats<Width> xs = loadFloats<Width>(xRow, c);
    const Floats<Width> dys = loadFloats<Width>(dyRow, c);
    for (int k = 0; k < Width; ++k) {
      sumSquares += double(xs.value[k]) * double(xs.value[k]);
      sumProducts += double(dys.value[k]) * double(xs.value[k]);
    }
  }
  const double rowScale = inverseRms(warpSum(sumSquares), cols, eps);
  const float dyScale = float(rowScale);
  const float xScale = float(rowScale * rowScale * rowScale *
                             warpSum(sumProducts) / double(cols));
  for (int64_t c = lane; c < chunks; c += kWarpSize) {
    const Floats<Width> xs = loadFloats<Width>(xRow, c);
    const Floats<Width> dys = loadFloats<Width>(dyRow, c);
    Floats<Width> out;
    for (int k = 0; k < Width; ++k)
      out.value[k] = dyScale * dys.value[k] - xScale * xs.value[k];
    storeFloats<Width>(dxRow, c, out);
  }
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_NORM_CUH
