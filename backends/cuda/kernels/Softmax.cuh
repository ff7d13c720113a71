//===- Softmax.cuh - causal mask and row softmax ----------------*- C++ -*-===//
//
// The two middle steps of unfused attention (attnScores -> causalMask ->
// softmax -> attnApply). One warp per row; with Width 4 the rows are read
// and written as float4 (row length % 4 == 0, 16-byte aligned buffers).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_SOFTMAX_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_SOFTMAX_CUH

#include "backends/cuda/kernels/Common.cuh"

#include <cmath>

namespace gptc::cuda::kernels {

/// y = x where key j <= query i, −inf elsewhere; warp w masks query row
/// w % T of matrix w / T.
template <int Width>
__global__ void __launch_bounds__(kBlockThreads)
    causalMaskKernel(const float *__restrict__ x, // [rows, T, T]
                     float *__restrict__ y,       // [rows, T, T]
                     int64_t rows, int64_t T) {
  const int64_t row = globalWarp();
  if (row >= rows * T)
    return;
  const int64_t query = row % T;
  const float *xRow = x + row * T;
  float *yRow = y + row * T;
  for (int64_t c = threadIdx.x % kWarpSize; c < T / Width; c += kWarpSize) {
    Floats<Width> v = loadFloats<Width>(xRow, c);
    for (int k = 0; k < Width; ++k)
      v.value[k] = c * Width + k <= query ? v.value[k] : -INFINITY;
    storeFloats<Width>(yRow, c, v);
  }
}

/// y = softmax(x) per row: exp(x − rowmax), summed in float, times
/// 1 / sum. −inf gives 0; a row of −inf gives NaN (rowmax − rowmax).
template <int Width>
__global__ void __launch_bounds__(kBlockThreads)
    softmaxKernel(const float *__restrict__ x, // [rows, cols]
                  float *__restrict__ y,       // [rows, cols]
                  int64_t rows, int64_t cols) {
  const int64_t row = globalWarp();
  if (row >= rows)
    return;
  const int lane = threadIdx.x % kWarpSize;
  const float *xRow = x + row * cols;
  float *yRow = y + row * cols;
  const int64_t chunks = cols / Width;
  float rowMax = -INFINITY;
  for (int64_t c = lane; c < chunks; c += kWarpSize) {
    const Floats<Width> v = loadFloats<Width>(xRow, c);
    for (int k = 0; k < Width; ++k)
      rowMax = fmaxf(rowMax, v.value[k]);
  }
  rowMax = warpMax(rowMax);
  float sum = 0.0f;
  for (int64_t c = lane; c < chunks; c += kWarpSize) {
    const Floats<Width> v = loadFloats<Width>(xRow, c);
    for (int k = 0; k < Width; ++k)
      sum += expf(v.value[k] - rowMax);
  }
  const float inverseSum = 1.0f / warpSum(sum);
  for (int64_t c = lane; c < chunks; c += kWarpSize) {
    Floats<Width> v = loadFloats<Width>(xRow, c);
    for (int k = 0; k < Width; ++k)
      v.value[k] = expf(v.value[k] - rowMax) * inverseSum;
    storeFloats<Width>(yRow, c, v);
  }
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_SOFTMAX_CUH
