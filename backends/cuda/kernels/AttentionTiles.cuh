//===- AttentionTiles.cuh - bf16 tiles and mma fragments --------*- C++ -*-===//
//
// What the training attention kernels (Attention.cuh, AttentionBackward.cuh)
// share: the block shape, the index math, staging fp32 rows from global
// memory as bf16 tiles in shared memory, and building the operands of
// gptc::cuda::mmaBf16 (m16n8k16, A row-major, B column-major) from such
// tiles or from accumulators.
//
// A shared tile is row-major bf16 with kTilePadding elements (16 bytes) of
// padding per row. With g = lane / 4 and t = lane % 4, a fragment load reads
// word t of rows g (32-bit loads of bf16 pairs) or column g of rows 2t and
// 2t + 1 (16-bit loads). With the padding, a row of 16, 32, 64 or 128
// columns is 12, 20, 36 or 68 words long, which puts the 8 rows × 4 words
// of the first kind, and the 4 rows 2t × 4 words of the second, in distinct
// banks: fragment loads are free of bank conflicts.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_ATTENTIONTILES_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_ATTENTIONTILES_CUH

#include "backends/cuda/Cuda.h"
#include "backends/cuda/Intrinsics.h"
#include "backends/cuda/kernels/Common.cuh"

namespace gptc::cuda::kernels {

/// Every attention block has 4 warps; each owns 16 rows (one mma M tile) of
/// the block's query tile (forward) or key tile (backward).
constexpr int kAttentionWarps = 4;
constexpr int kAttentionThreads = kAttentionWarps * kWarpSize;
constexpr int kWarpRows = 16;

/// log2(e): scores are exponentiated as exp2(x · scale · log2e).
constexpr float kLog2e = 1.4426950408889634f;

/// bf16 elements of padding at the end of each shared tile row.
constexpr int kTilePadding = 8;

/// Row stride, in bf16 elements, of a shared tile of `cols` columns.
__host__ __device__ constexpr int tileStride(int cols) {
  return cols + kTilePadding;
}

/// Tiles of `tile` rows covering n rows.
__host__ __device__ constexpr int tileCount(int n, int tile) {
  return (n + tile - 1) / tile;
}

/// Offset of element 0 of token t, head `head` in batch b of a
/// [B, T, heads, D] tensor.
__host__ __device__ inline int64_t tokenOffset(int64_t b, int64_t t,
                                               int64_t head, int64_t T,
                                               int64_t heads, int64_t D) {
  return ((b * T + t) * heads + head) * D;
}

/// The kv head that query head h reads (H / Hkv query heads per group).
__host__ __device__ inline int kvHeadOf(int h, int H, int Hkv) {
  return h / (H / Hkv);
}

/// Whether some key of the tile [firstKey, firstKey + keys) is in the future
/// of some query of a tile starting at firstQuery (key j is visible to query
/// i iff j <= i); tiles start at multiples of each other, so only then does
/// the causal mask change anything.
__host__ __device__ inline bool tileNeedsMask(int firstQuery, int firstKey,
                                              int keys) {
  return firstKey + keys - 1 > firstQuery;
}

/// This thread's lane and its row group g = lane / 4 and column pair
/// t = lane % 4 in the mma fragment layout.
__device__ __forceinline__ int laneIndex() { return threadIdx.x % kWarpSize; }
__device__ __forceinline__ int laneGroup() { return laneIndex() / 4; }
__device__ __forceinline__ int laneInGroup() { return laneIndex() % 4; }

/// Stages rows [0, Rows) of an fp32 matrix (rows `rowStride` floats apart,
/// Cols contiguous columns each) as bf16 into tile [Rows, tileStride(Cols)];
/// rows at or past `validRows` become zero. Every thread of the block takes
/// a share; the caller synchronises before the tile is read.
template <int Rows, int Cols>
__device__ __forceinline__ void loadTile(uint16_t *tile,      // [Rows, Cols]
                                         const float *source, // [Rows, Cols]
                                         int64_t rowStride, int validRows) {
  static_assert(Cols % 4 == 0, "rows are loaded as float4");
  constexpr int chunksPerRow = Cols / 4;
  for (int chunk = threadIdx.x; chunk < Rows * chunksPerRow;
       chunk += kAttentionThreads) {
    const int row = chunk / chunksPerRow, col = chunk % chunksPerRow * 4;
    const float4 x =
        row < validRows
            ? *reinterpret_cast<const float4 *>(source + row * rowStride + col)
            : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    uint2 packed;
    packed.x = packBf16x2(x.x, x.y);
    packed.y = packBf16x2(x.z, x.w);
    *reinterpret_cast<uint2 *>(tile + row * tileStride(Cols) + col) = packed;
  }
}

/// The bf16 pair tile[row][col], tile[row][col + 1] as one register.
template <int Cols>
__device__ __forceinline__ uint32_t loadPair(const uint16_t *tile, int row,
                                             int col) {
  return *reinterpret_cast<const uint32_t *>(tile + row * tileStride(Cols) +
                                             col);
}

/// The bf16 pair tile[row][col], tile[row + 1][col] as one register.
template <int Cols>
__device__ __forceinline__ uint32_t loadColumnPair(const uint16_t *tile,
                                                   int row, int col) {
  return uint32_t(tile[row * tileStride(Cols) + col]) |
         uint32_t(tile[(row + 1) * tileStride(Cols) + col]) << 16;
}

/// A fragment of A(m, k) = tile[row0 + m][col0 + k], m, k < 16.
template <int Cols>
__device__ __forceinline__ void loadA(uint32_t (&a)[4],
                                      const uint16_t *tile, // [rows, Cols]
                                      int row0, int col0) {
  const int row = row0 + laneGroup(), col = col0 + 2 * laneInGroup();
  a[0] = loadPair<Cols>(tile, row, col);
  a[1] = loadPair<Cols>(tile, row + 8, col);
  a[2] = loadPair<Cols>(tile, row, col + 8);
  a[3] = loadPair<Cols>(tile, row + 8, col + 8);
}

/// B fragment of B(k, n) = tile[row0 + n][col0 + k], k < 16, n < 8: the
/// tile holds B column-major (Bᵀ row-major, as K for Q·Kᵀ).
template <int Cols>
__device__ __forceinline__ void
loadBColMajor(uint32_t (&b)[2],
              const uint16_t *tile, // [rows, Cols]
              int row0, int col0) {
  const int row = row0 + laneGroup(), col = col0 + 2 * laneInGroup();
  b[0] = loadPair<Cols>(tile, row, col);
  b[1] = loadPair<Cols>(tile, row, col + 8);
}

/// B fragment of B(k, n) = tile[row0 + k][col0 + n], k < 16, n < 8: the
/// tile holds B row-major (as V for P·V), read with 16-bit loads.
template <int Cols>
__device__ __forceinline__ void
loadBRowMajor(uint32_t (&b)[2],
              const uint16_t *tile, // [rows, Cols]
              int row0, int col0) {
  const int row = row0 + 2 * laneInGroup(), col = col0 + laneGroup();
  b[0] = loadColumnPair<Cols>(tile, row, col);
  b[1] = loadColumnPair<Cols>(tile, row + 8, col);
}

/// A fragment of the 16x16 block whose columns 0..7 are the accumulator
/// tile `left` and columns 8..15 the accumulator tile `right` (an mma's C
/// layout is the A layout of one half of k), rounded to bf16.
__device__ __forceinline__ void accumulatorsToA(uint32_t (&a)[4],
                                                const float (&left)[4],
                                                const float (&right)[4]) {
  a[0] = packBf16x2(left[0], left[1]);
  a[1] = packBf16x2(left[2], left[3]);
  a[2] = packBf16x2(right[0], right[1]);
  a[3] = packBf16x2(right[2], right[3]);
}

/// Maximum and sum over the 4 lanes of a row group (the lanes holding one
/// accumulator row).
__device__ __forceinline__ float rowGroupMax(float x) {
  x = fmaxf(x, __shfl_xor_sync(kFullMask, x, 1));
  return fmaxf(x, __shfl_xor_sync(kFullMask, x, 2));
}

__device__ __forceinline__ float rowGroupSum(float x) {
  x += __shfl_xor_sync(kFullMask, x, 1);
  return x + __shfl_xor_sync(kFullMask, x, 2);
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_ATTENTIONTILES_CUH
