//===- Embedding.cuh - token embedding lookup and its gradient --*- C++ -*-===//
//
// The lookup copies one table row per warp. The gradient is deterministic
// without atomics: a warp owns 32·Width channels of a range of ids, zeroes
// its part of the table, then walks all positions in order, 32 at a time;
// the positions whose id falls in its range (found with one coalesced read
// of 32 ids and a warp-wide or) are added to their row in position order,
// exactly the order of the CPU kernel, so the sums are bitwise the same.
// Splitting the ids over warps gives the GPU enough warps and keeps each
// warp's chain of dependent read-modify-writes short.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_EMBEDDING_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_EMBEDDING_CUH

#include "backends/cuda/kernels/Common.cuh"

namespace gptc::cuda::kernels {

/// out[p, :] = table[ids[p], :], one warp per position. With Width 4, C is
/// a multiple of 4 and table and out are 16-byte aligned.
template <int Width>
__global__ void __launch_bounds__(kBlockThreads)
    embeddingKernel(const float *__restrict__ table, // [V, C]
                    const int32_t *__restrict__ ids, // [n]
                    float *__restrict__ out,         // [n, C]
                    int64_t n, int64_t C) {
  const int64_t p = globalWarp();
  if (p >= n)
    return;
  const float *tableRow = table + int64_t(__ldg(ids + p)) * C;
  float *outRow = out + p * C;
  for (int64_t c = threadIdx.x % kWarpSize; c < C / Width; c += kWarpSize)
    storeFloats<Width>(outRow, c, loadFloats<Width>(tableRow, c));
}

/// Warps of embeddingBackwardKernel: warp w owns channel block
/// w % channelBlocks (32·Width channels) of id range w / channelBlocks, the
/// ids [range·V/ranges, (range+1)·V/ranges).
template <int Width>
__global__ void __launch_bounds__(kBlockThreads)
    embeddingBackwardKernel(const int32_t *__restrict__ ids, // [n]
                            const float *__restrict__ dy,    // [n, C]
                            float *__restrict__ dtable,      // [V, C]
                            int64_t n, int64_t V, int64_t C,
                            int64_t channelBlocks, int64_t ranges) {
  const int64_t warp = globalWarp();
  const int64_t range = warp / channelBlocks;
  if (range >= ranges)
    return;
  const int lane = threadIdx.x % kWarpSize;
  // The lane's Width channels start at chunk·Width; lanes past C only take
  // part in the warp's collectives.
  const int64_t chunk = (warp % channelBlocks) * kWarpSize + lane;
  const bool active = chunk * Width < C;
  const int64_t firstId = range * V / ranges;
  const int64_t endId = (range + 1) * V / ranges;

  const Floats<Width> zero{};
  if (active)
    for (int64_t id = firstId; id < endId; ++id)
      storeFloats<Width>(dtable + id * C, chunk, zero);

  for (int64_t p0 = 0; p0 < n; p0 += kWarpSize) {
    const int32_t id = p0 + lane < n ? __ldg(ids + p0 + lane) : -1;
    uint32_t matches = warpOr(id >= firstId && id < endId ? 1u << lane : 0u);
    while (matches != 0) {
      const int k = lowestSetBit(matches);
      matches &= matches - 1;
      const int64_t rowId = __shfl_sync(kFullMask, id, k);
      if (active) {
        float *dtableRow = dtable + rowId * C;
        // dtableRow is written by this kernel: no read-only cache.
        Floats<Width> sum = loadFloats<Width, false>(dtableRow, chunk);
        const Floats<Width> grad = loadFloats<Width>(dy + (p0 + k) * C, chunk);
        for (int i = 0; i < Width; ++i)
          sum.value[i] += grad.value[i];
        storeFloats<Width>(dtableRow, chunk, sum);
      }
    }
  }
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_EMBEDDING_CUH
