//===- Attention.cuh - fused causal attention forward -----------*- C++ -*-===//
//
// FlashAttention-2's forward pass on bf16 tensor cores. A block owns one
// tile of kForwardQueryTile queries of one (batch, head); each of its 4
// warps owns 16 query rows, whose Q fragments it keeps in registers. The
// block walks the key tiles from the first to the diagonal one: it stages
// the tile's K and V rows as bf16 in shared memory, each warp computes its
// scores S = Q·Kᵀ (fp32), masks the future on the diagonal tiles, updates
// its rows' running max m and sum l (online softmax, exp2 with scale·log2e
// folded in; a row's values live in the 4 lanes of a row group, so the
// reductions are two shuffles), and adds P·V to its unnormalised output
// accumulators, with P taken from the score registers as the A operand.
// At the end o = accumulator / l and lse = m·scale + log(l).
//
// The grid is (B·H, query tiles) with the last query tiles, which see the
// most keys, first. K/V tiles are read by kv head, so GQA copies nothing.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_ATTENTION_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_ATTENTION_CUH

#include "backends/cuda/kernels/AttentionTiles.cuh"

#include <cmath>

namespace gptc::cuda::kernels {

/// Queries per forward block: 16 per warp.
constexpr int kForwardQueryTile = kAttentionWarps * kWarpRows;

/// Keys per forward step. 32 for D = 128 keeps the static shared memory
/// (Q, K and V tiles) under 48 KB and the score registers few.
__host__ __device__ constexpr int forwardKeyTile(int D) {
  return D == 128 ? 32 : 64;
}

/// o [B, T, H, D] and lse [B, H, T] of causal attention of q [B, T, H, D]
/// over k, v [B, T, Hkv, D]; grid (B·H, tileCount(T, kForwardQueryTile)),
/// kAttentionThreads threads.
template <int D>
__global__ void __launch_bounds__(kAttentionThreads, 1)
    causalAttentionForward(const float *__restrict__ q, // [B, T, H, D]
                           const float *__restrict__ k, // [B, T, Hkv, D]
                           const float *__restrict__ v, // [B, T, Hkv, D]
                           float *__restrict__ o,       // [B, T, H, D]
                           float *__restrict__ lse,     // [B, H, T]
                           int T, int H, int Hkv, float scale) {
  constexpr int QueryTile = kForwardQueryTile;
  constexpr int KeyTile = forwardKeyTile(D);
  static_assert(D % 16 == 0 && KeyTile % 16 == 0, "whole mma k steps");
  static_assert(QueryTile % KeyTile == 0, "key tiles end where query tiles do");
  alignas(16) GPTC_SHARED_ARRAY(uint16_t, queryTile, QueryTile * tileStride(D));
  alignas(16) GPTC_SHARED_ARRAY(uint16_t, keyTile, KeyTile * tileStride(D));
  alignas(16) GPTC_SHARED_ARRAY(uint16_t, valueTile, KeyTile * tileStride(D));

  const int b = blockIdx.x / H, h = blockIdx.x % H;
  const int kvHead = kvHeadOf(h, H, Hkv);
  const int firstQuery = (gridDim.y - 1 - blockIdx.y) * QueryTile;
  const int warpRow = threadIdx.x / kWarpSize * kWarpRows;
  const int g = laneGroup(), t = laneInGroup();
  // This lane's rows of the warp's accumulators: g and g + 8.
  const int queries[2] = {firstQuery + warpRow + g,
                          firstQuery + warpRow + g + 8};

  loadTile<QueryTile, D>(queryTile, q + tokenOffset(b, firstQuery, h, T, H, D),
                         int64_t(H) * D, T - firstQuery);
  __syncthreads();
  uint32_t queryFragments[D / 16][4];
  for (int kStep = 0; kStep < D / 16; ++kStep)
    loadA<D>(queryFragments[kStep], queryTile, warpRow, 16 * kStep);

  float accumulators[D / 8][4] = {};
  float rowMax[2] = {-INFINITY, -INFINITY};
  float rowSum[2] = {0.0f, 0.0f}; // this lane's share of l
  const float log2Scale = scale * kLog2e;

  // Keys past the tile's last query are invisible to all its rows. Key tile
  // 0 gives every row a finite max.
  const int keyEnd = firstQuery + QueryTile < T ? firstQuery + QueryTile : T;
  for (int firstKey = 0; firstKey < keyEnd; firstKey += KeyTile) {
    __syncthreads(); // every warp is done with the previous K and V tiles
    const int64_t kvOffset = tokenOffset(b, firstKey, kvHead, T, Hkv, D);
    loadTile<KeyTile, D>(keyTile, k + kvOffset, int64_t(Hkv) * D, T - firstKey);
    loadTile<KeyTile, D>(valueTile, v + kvOffset, int64_t(Hkv) * D,
                         T - firstKey);
    __syncthreads();

    float scores[KeyTile / 8][4] = {};
    for (int kStep = 0; kStep < D / 16; ++kStep)
      for (int n = 0; n < KeyTile / 8; ++n) {
        uint32_t keyFragment[2];
        loadBColMajor<D>(keyFragment, keyTile, 8 * n, 16 * kStep);
        mmaBf16(scores[n], queryFragments[kStep], keyFragment);
      }

    // Keys past T are in the future of every query, so the mask also
    // drops the zero rows staged for them.
    if (tileNeedsMask(firstQuery, firstKey, KeyTile)) {
      for (int n = 0; n < KeyTile / 8; ++n)
        for (int e = 0; e < 4; ++e)
          if (firstKey + 8 * n + 2 * t + e % 2 > queries[e / 2])
            scores[n][e] = -INFINITY;
    }

    for (int r = 0; r < 2; ++r) {
      float tileMax = rowMax[r];
      for (int n = 0; n < KeyTile / 8; ++n)
        tileMax = fmaxf(tileMax, fmaxf(scores[n][2 * r], scores[n][2 * r + 1]));
      const float newMax = rowGroupMax(tileMax);
      // rowMax is -inf before the first tile, which makes the correction 0.
      const float correction = fastExp2((rowMax[r] - newMax) * log2Scale);
      rowMax[r] = newMax;
      const float shift = newMax * log2Scale;
      float tileSum = 0.0f;
      for (int n = 0; n < KeyTile / 8; ++n)
        for (int c = 2 * r; c < 2 * r + 2; ++c) {
          scores[n][c] = fastExp2(fmaf(scores[n][c], log2Scale, -shift));
          tileSum += scores[n][c];
        }
      rowSum[r] = rowSum[r] * correction + tileSum;
      for (int n = 0; n < D / 8; ++n) {
        accumulators[n][2 * r] *= correction;
        accumulators[n][2 * r + 1] *= correction;
      }
    }

    for (int kStep = 0; kStep < KeyTile / 16; ++kStep) {
      uint32_t weights[4];
      accumulatorsToA(weights, scores[2 * kStep], scores[2 * kStep + 1]);
      for (int n = 0; n < D / 8; ++n) {
        uint32_t valueFragment[2];
        loadBRowMajor<D>(valueFragment, valueTile, 16 * kStep, 8 * n);
        mmaBf16(accumulators[n], weights, valueFragment);
      }
    }
  }

  for (int r = 0; r < 2; ++r) {
    const float sum = rowGroupSum(rowSum[r]);
    if (queries[r] >= T)
      continue;
    const float inverseSum = 1.0f / sum;
    float *oRow = o + tokenOffset(b, queries[r], h, T, H, D);
    for (int n = 0; n < D / 8; ++n)
      *reinterpret_cast<float2 *>(oRow + 8 * n + 2 * t) =
          make_float2(accumulators[n][2 * r] * inverseSum,
                      accumulators[n][2 * r + 1] * inverseSum);
    if (t == 0)
      lse[(int64_t(b) * H + h) * T + queries[r]] =
          rowMax[r] * scale + logf(sum);
  }
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_ATTENTION_CUH
