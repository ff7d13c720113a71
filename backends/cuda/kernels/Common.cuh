//===- Common.cuh - vector access, reductions and grid sizes ----*- C++ -*-===//
//
// What the kernels of backends/cuda/kernels share: float4-or-scalar access
// to rows of floats, warp and block reductions built on shuffles, and the
// host-side choice of grid and vector width. Reductions assume 1-D blocks
// whose size is a multiple of 32, with every thread of the block (or warp)
// taking part.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_COMMON_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_COMMON_CUH

#include "backends/cuda/Cuda.h"

#include <cstddef>
#include <cstdint>

namespace gptc::cuda::kernels {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

/// Threads per block of the elementwise and warp-per-row kernels.
constexpr int kBlockThreads = 256;
constexpr int kWarpsPerBlock = kBlockThreads / kWarpSize;

/// Blocks of a grid-stride loop: two waves of full blocks on an H100 (132
/// SMs, 2048 threads each) are enough to keep the memory system busy.
constexpr int64_t kGridStrideBlocks = 2048;

/// Width consecutive floats, read and written as one float4 when Width is 4
/// (the address is then 16-byte aligned) and one float at a time when it
/// is 1.
template <int Width> struct Floats { float value[Width]; };

/// Elements i·Width .. i·Width + Width − 1 of p; through the read-only
/// cache unless the running kernel writes p (ReadOnly false).
template <int Width, bool ReadOnly = true>
__device__ __forceinline__ Floats<Width> loadFloats(const float *p, int64_t i) {
  Floats<Width> f;
  if constexpr (Width == 4) {
    const float4 *address = reinterpret_cast<const float4 *>(p) + i;
    const float4 q = ReadOnly ? __ldg(address) : *address;
    f.value[0] = q.x;
    f.value[1] = q.y;
    f.value[2] = q.z;
    f.value[3] = q.w;
  } else {
    static_assert(Width == 1, "rows are read as float4 or float");
    f.value[0] = ReadOnly ? __ldg(p + i) : p[i];
  }
  return f;
}

template <int Width>
__device__ __forceinline__ void storeFloats(float *p, int64_t i,
                                            const Floats<Width> &f) {
  if constexpr (Width == 4)
    reinterpret_cast<float4 *>(p)[i] =
        make_float4(f.value[0], f.value[1], f.value[2], f.value[3]);
  else
    p[i] = f.value[0];
}

/// The sum of `value` over the 32 lanes of the warp, in every lane.
template <typename T> __device__ __forceinline__ T warpSum(T value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    value += __shfl_xor_sync(kFullMask, value, offset);
  return value;
}

/// The largest `value` of the warp, in every lane.
__device__ __forceinline__ float warpMax(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    value = fmaxf(value, __shfl_xor_sync(kFullMask, value, offset));
  return value;
}

/// The bitwise or of `bits` over the warp, in every lane.
__device__ __forceinline__ uint32_t warpOr(uint32_t bits) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    bits |= __shfl_xor_sync(kFullMask, bits, offset);
  return bits;
}

/// The index of the lowest set bit of a nonzero `bits`.
__device__ __forceinline__ int lowestSetBit(uint32_t bits) {
#ifdef __CUDA_ARCH__
  return __ffs(int(bits)) - 1;
#else
  return __builtin_ctz(bits);
#endif
}

/// The sum of `value` over the block, in every thread. The order of the
/// additions is fixed by the block size, so the result is reproducible.
template <typename T> __device__ T blockSum(T value) {
  GPTC_SHARED_ARRAY(T, partials, kWarpSize);
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  value = warpSum(value);
  __syncthreads(); // a previous call has finished reading `partials`
  if (lane == 0)
    partials[warp] = value;
  __syncthreads();
  return warpSum(lane < warps ? partials[lane] : T(0));
}

//===----------------------------------------------------------------------===//
// Host side: launch shapes
//===----------------------------------------------------------------------===//

/// Whether `pointer` can be read and written as float4 (null counts as
/// aligned, for absent operands).
inline bool isVectorAligned(const void *pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % 16 == 0;
}

/// Blocks of `threads` threads for a grid-stride loop over `items`.
inline dim3 gridStrideBlocks(int64_t items, int threads) {
  const int64_t blocks = (items + threads - 1) / threads;
  return dim3(
      unsigned(blocks < kGridStrideBlocks ? blocks : kGridStrideBlocks));
}

/// Blocks of kBlockThreads threads giving one warp to each of `rows` rows.
inline dim3 warpPerRowBlocks(int64_t rows) {
  return dim3(unsigned((rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
}

/// The global index of the calling thread's warp in a warp-per-row grid.
__device__ __forceinline__ int64_t globalWarp() {
  return int64_t(blockIdx.x) * (blockDim.x / kWarpSize) +
         threadIdx.x / kWarpSize;
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_COMMON_CUH
