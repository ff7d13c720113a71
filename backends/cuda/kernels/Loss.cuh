//===- Loss.cuh - cross-entropy rows and their reductions -------*- C++ -*-===//
//
// One block per row of logits: each thread keeps a running log-sum-exp of
// its strided part of the row (read once, as float4 when Width is 4: V % 4
// == 0 and aligned logits), optionally soft-capping each logit first; the
// block combines them with shuffles and shared memory. The exp sums
// accumulate in double. Row losses go to a [rows] double buffer that one
// block then averages in a fixed order, so the loss is reproducible.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_LOSS_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_LOSS_CUH

#include "backends/cuda/kernels/Common.cuh"

#include <cmath>

namespace gptc::cuda::kernels {

/// Threads per block of the per-row kernels, at most.
constexpr int kMaxRowThreads = 512;

/// Threads of the single-block reductions over rows.
constexpr int kReductionThreads = 1024;

/// The block size for rows of `cols` logits: about 16 per thread, whole
/// warps, at most kMaxRowThreads.
inline int rowThreads(int64_t cols) {
  const int64_t warps = (cols / 16 + kWarpSize - 1) / kWarpSize;
  const int64_t threads = (warps < 1 ? 1 : warps) * kWarpSize;
  return int(threads < kMaxRowThreads ? threads : kMaxRowThreads);
}

/// A running log-sum-exp: the largest value seen and the sum of exp(value −
/// max) over the values seen; empty is (−inf, 0).
struct LogSumExp {
  float max;
  double sum;
};

/// Adds Width values to `state`. −inf values add nothing; a NaN makes the
/// sum NaN.
template <int Width>
__device__ __forceinline__ void accumulate(LogSumExp &state,
                                           const Floats<Width> &values) {
  float groupMax = values.value[0];
  for (int k = 1; k < Width; ++k)
    groupMax = fmaxf(groupMax, values.value[k]);
  if (groupMax == -INFINITY)
    return;
  if (groupMax > state.max) {
    state.sum *= expf(state.max - groupMax);
    state.max = groupMax;
  }
  for (int k = 0; k < Width; ++k)
    state.sum += expf(values.value[k] - state.max);
}

__device__ __forceinline__ LogSumExp merge(const LogSumExp &a,
                                           const LogSumExp &b) {
  const float max = fmaxf(a.max, b.max);
  if (max == -INFINITY)
    return a;
  return {max, a.sum * expf(a.max - max) + b.sum * expf(b.max - max)};
}

__device__ __forceinline__ LogSumExp warpLogSumExp(LogSumExp state) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const LogSumExp other = {__shfl_xor_sync(kFullMask, state.max, offset),
                             __shfl_xor_sync(kFullMask, state.sum, offset)};
    state = merge(state, other);
  }
  return state;
}

/// The merge of every thread's `state`, in every thread of the block.
inline __device__ LogSumExp blockLogSumExp(LogSumExp state) {
  GPTC_SHARED_ARRAY(float, maxes, kWarpSize);
  GPTC_SHARED_ARRAY(double, sums, kWarpSize);
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  state = warpLogSumExp(state);
  if (lane == 0) {
    maxes[warp] = state.max;
    sums[warp] = state.sum;
  }
  __syncthreads();
  const bool present = lane < int(blockDim.x / kWarpSize);
  return warpLogSumExp(
      {present ? maxes[lane] : -INFINITY, present ? sums[lane] : 0.0});
}

/// The logit as the loss sees it: cap·tanh(z/cap) when Softcap, else z.
template <bool Softcap>
__device__ __forceinline__ float capped(float z, float cap) {
  return Softcap ? cap * tanhf(z / cap) : z;
}

/// The log-sum-exp of the (capped) row z[V], in every thread of the block.
template <int Width, bool Softcap>
__device__ LogSumExp rowLogSumExp(const float *z, int64_t V, float cap) {
  LogSumExp state = {-INFINITY, 0.0};
  for (int64_t c = threadIdx.x; c < V / Width; c += blockDim.x) {
    Floats<Width> values = loadFloats<Width>(z, c);
    for (int k = 0; k < Width; ++k)
      values.value[k] = capped<Softcap>(values.value[k], cap);
    accumulate(state, values);
  }
  return blockLogSumExp(state);
}

/// rowLosses[r] = logsumexp(s[r, :]) − s[r, targets[r]] (0 when the target
/// is ignoreIndex) with s the logits, soft-capped when Softcap. One block
/// per row.
template <int Width, bool Softcap>
__global__ void __launch_bounds__(kMaxRowThreads)
    crossEntropyRowsKernel(const float *__restrict__ logits,    // [rows, V]
                           const int32_t *__restrict__ targets, // [rows]
                           double *__restrict__ rowLosses,      // [rows]
                           int64_t V, float cap, int32_t ignoreIndex) {
  const int64_t row = blockIdx.x;
  const int32_t target = __ldg(targets + row);
  if (target == ignoreIndex) {
    if (threadIdx.x == 0)
      rowLosses[row] = 0.0;
    return;
  }
  const float *z = logits + row * V;
  const LogSumExp lse = rowLogSumExp<Width, Softcap>(z, V, cap);
  if (threadIdx.x == 0)
    rowLosses[row] = double(lse.max) + log(lse.sum) -
                     double(capped<Softcap>(__ldg(z + target), cap));
}

/// The gradient of the soft-capped cross-entropy with respect to the
/// logits z of each row: with s = cap·tanh(z/cap) and p = softmax(s),
/// dz = rowFactor·(p − onehot(target))·(1 − (s/cap)²), 0 on ignored rows.
template <int Width>
__global__ void __launch_bounds__(kMaxRowThreads)
    lmHeadGradientKernel(const float *__restrict__ logits,    // [rows, V]
                         const int32_t *__restrict__ targets, // [rows]
                         const float *__restrict__ rowFactor, // [1]
                         float *__restrict__ dlogits,         // [rows, V]
                         int64_t V, float cap, int32_t ignoreIndex) {
  const int64_t row = blockIdx.x;
  const int32_t target = __ldg(targets + row);
  const float *z = logits + row * V;
  float *dz = dlogits + row * V;
  if (target == ignoreIndex) {
    const Floats<Width> zero{};
    for (int64_t c = threadIdx.x; c < V / Width; c += blockDim.x)
      storeFloats<Width>(dz, c, zero);
    return;
  }
  const LogSumExp lse = rowLogSumExp<Width, true>(z, V, cap);
  const float logSumExp = float(double(lse.max) + log(lse.sum));
  const float factor = __ldg(rowFactor);
  for (int64_t c = threadIdx.x; c < V / Width; c += blockDim.x) {
    const Floats<Width> values = loadFloats<Width>(z, c);
    Floats<Width> out;
    for (int k = 0; k < Width; ++k) {
      const float s = capped<true>(values.value[k], cap);
      const float probability = expf(s - logSumExp);
      const float onehot = c * Width + k == target ? 1.0f : 0.0f;
      const float tanh = s / cap;
      out.value[k] = factor * (probability - onehot) * (1.0f - tanh * tanh);
    }
    storeFloats<Width>(dz, c, out);
  }
}

/// The number of targets[rows] that are not ignoreIndex, in every thread of
/// the block.
inline __device__ int64_t countTargets(const int32_t *targets, int64_t rows,
                                       int32_t ignoreIndex) {
  int64_t count = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
    count += __ldg(targets + r) != ignoreIndex;
  return blockSum(count);
}

/// loss[0] = the mean of rowLosses over the rows not ignored (the others
/// hold 0), NaN when every row is ignored. One block.
static __global__ void __launch_bounds__(kReductionThreads)
    meanLossKernel(const double *__restrict__ rowLosses, // [rows]
                   const int32_t *__restrict__ targets,  // [rows]
                   float *__restrict__ loss,             // [1]
                   int64_t rows, int32_t ignoreIndex) {
  double total = 0.0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
    total += __ldg(rowLosses + r);
  total = blockSum(total);
  const int64_t counted = countTargets(targets, rows, ignoreIndex);
  if (threadIdx.x == 0)
    loss[0] = counted == 0 ? nanf("") : float(total / double(counted));
}

/// rowFactor[0] = dloss / (the number of rows not ignored), 0 when every
/// row is ignored. One block.
static __global__ void __launch_bounds__(kReductionThreads)
    lossGradientScaleKernel(const int32_t *__restrict__ targets, // [rows]
                            const float *__restrict__ dloss,     // [1]
                            float *__restrict__ rowFactor,       // [1]
                            int64_t rows, int32_t ignoreIndex) {
  const int64_t counted = countTargets(targets, rows, ignoreIndex);
  if (threadIdx.x == 0)
    rowFactor[0] =
        counted == 0 ? 0.0f : float(double(__ldg(dloss)) / double(counted));
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_LOSS_CUH
