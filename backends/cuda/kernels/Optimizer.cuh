//===- Optimizer.cuh - kernels of the optimizer step ------------*- C++ -*-===//
//
// The elementwise parts of gradient accumulation, clipping, AdamW and Muon,
// as grid-stride loops of one thread per element (they stream through
// memory once; the parameters of a model are a few launches' worth), and
// the two passes of a reproducible sum of squares in double.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_OPTIMIZER_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_OPTIMIZER_CUH

#include "backends/cuda/kernels/Common.cuh"

namespace gptc::cuda::kernels {

/// The first element and the stride of the calling thread in a grid-stride
/// loop.
__device__ __forceinline__ int64_t gridStrideFirst() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t gridStride() {
  return int64_t(gridDim.x) * blockDim.x;
}

/// partials[block] = the sum of x[i]² over the block's grid-stride share
/// of x[n], in double.
__global__ void __launch_bounds__(kBlockThreads)
    sumOfSquaresPartialsKernel(const float *__restrict__ x, // [n]
                               int64_t n,
                               double *__restrict__ partials) { // [blocks]
  double sum = 0.0;
  for (int64_t i = gridStrideFirst(); i < n; i += gridStride()) {
    const double value = __ldg(x + i);
    sum += value * value;
  }
  sum = blockSum(sum);
  if (threadIdx.x == 0)
    partials[blockIdx.x] = sum;
}

/// result[0] = the sum of partials[count], by one block in a fixed order.
__global__ void __launch_bounds__(kBlockThreads)
    sumPartialsKernel(const double *__restrict__ partials, // [count]
                      int64_t count,
                      double *__restrict__ result) { // [1]
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x)
    sum += partials[i];
  sum = blockSum(sum);
  if (threadIdx.x == 0)
    result[0] = sum;
}

/// y[n] += alpha · x[n].
__global__ void __launch_bounds__(kBlockThreads)
    addScaledKernel(float *__restrict__ y,       // [n]
                    const float *__restrict__ x, // [n]
                    int64_t n, float alpha) {
  for (int64_t i = gridStrideFirst(); i < n; i += gridStride())
    y[i] += alpha * __ldg(x + i);
}

/// y[n] = factor · x[n]; y may be x.
__global__ void __launch_bounds__(kBlockThreads)
    storeScaledKernel(const float *x, // [n]
                      float *y,       // [n]
                      int64_t n, float factor) {
  for (int64_t i = gridStrideFirst(); i < n; i += gridStride())
    y[i] = factor * x[i];
}

/// One AdamW step on param[n] with grad[n] and the moments m[n], v[n], as
/// backends/host/DeviceCpu.cpp computes it.
__global__ void __launch_bounds__(kBlockThreads)
    adamwKernel(float *__restrict__ param,      // [n]
                const float *__restrict__ grad, // [n]
                float *__restrict__ m,          // [n]
                float *__restrict__ v,          // [n]
                int64_t n, float beta1, float beta2, float eps, float stepSize,
                float bias2Sqrt) {
  for (int64_t i = gridStrideFirst(); i < n; i += gridStride()) {
    const float g = __ldg(grad + i);
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] -= stepSize * mi / (sqrtf(vi) / bias2Sqrt + eps);
  }
}

/// momentum[n] = lerp(momentum, grad, 1 - mu); update[n] = lerp(grad,
/// momentum, mu).
__global__ void __launch_bounds__(kBlockThreads)
    muonMomentumKernel(const float *__restrict__ grad, // [n]
                       float *__restrict__ momentum,   // [n]
                       float *__restrict__ update,     // [n]
                       int64_t n, float mu) {
  for (int64_t i = gridStrideFirst(); i < n; i += gridStride()) {
    const float g = __ldg(grad + i);
    const float next = momentum[i] + (1.0f - mu) * (g - momentum[i]);
    momentum[i] = next;
    update[i] = g + mu * (next - g);
  }
}

/// y[n] = x[n] · float(1 / (sqrt(sumOfSquares[0]) + eps)); y may be x.
__global__ void __launch_bounds__(kBlockThreads)
    normalizeKernel(const float *x,                        // [n]
                    float *y,                              // [n]
                    int64_t n, const double *sumOfSquares, // [1]
                    double eps) {
  const float inverseNorm = float(1.0 / (sqrt(*sumOfSquares) + eps));
  for (int64_t i = gridStrideFirst(); i < n; i += gridStride())
    y[i] = x[i] * inverseNorm;
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_OPTIMIZER_CUH
