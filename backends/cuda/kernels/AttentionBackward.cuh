//===- AttentionBackward.cuh - fused causal attention gradient --*- C++ -*-===//
//
// FlashAttention-2's backward pass (Algorithm 2) on bf16 tensor cores, in
// two kernels:
//
// attentionRowDots: Δ = rowsum(dO∘O) per query row, and dq zeroed for the
// main kernel's atomic sums.
//
// causalAttentionBackwardKernel: a block owns one tile of kBackwardKeyTile
// keys of one (batch, kv head), staged as bf16 K and V tiles in shared
// memory; each of its 4 warps owns 16 of the keys and keeps their dK and dV
// in fp32 registers. For each query head of the kv head's group and each
// query tile from the diagonal on, the block stages Q, dO, lse and Δ, and
// each warp computes, transposed (keys as rows, so that the products into
// dK and dV take their A operand from registers):
//
//   Sᵀ = K·Qᵀ, Pᵀ = exp2(Sᵀ·scale·log2e − lse·log2e) (0 in the future),
//   dPᵀ = V·dOᵀ, dSᵀ = Pᵀ∘(dPᵀ − Δ), dV += Pᵀ·dO, dK += dSᵀ·Q.
//
// dS is then staged in shared memory as [query, key] bf16, and the warps
// split dQ's tile += scale·dS·K between them and add it to dq with fp32
// atomics. dK (times scale) and dV are written once, at the end: the group's
// query heads are summed in registers, without atomics or expanded copies.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_ATTENTIONBACKWARD_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_ATTENTIONBACKWARD_CUH

#include "backends/cuda/kernels/AttentionTiles.cuh"

#include <cmath>

namespace gptc::cuda::kernels {

/// Keys per backward block: 16 per warp.
constexpr int kBackwardKeyTile = kAttentionWarps * kWarpRows;

/// Queries per backward step. 16 for D = 128 keeps the static shared memory
/// (K, V, Q, dO and dS tiles) under 48 KB and, with the 128 registers of
/// dK and dV, the score registers few.
__host__ __device__ constexpr int backwardQueryTile(int D) {
  return D == 128 ? 16 : 64;
}

/// delta[B, H, T] = rowsum(dout∘o) and dq = 0, one warp per (b, t, h) row
/// of the rows = B·T·H rows of D floats; grid warpPerRowBlocks(rows),
/// kBlockThreads threads.
__global__ void __launch_bounds__(kBlockThreads)
    attentionRowDots(const float *__restrict__ o,    // [B, T, H, D]
                     const float *__restrict__ dout, // [B, T, H, D]
                     float *__restrict__ delta,      // [B, H, T]
                     float *__restrict__ dq,         // [B, T, H, D]
                     int64_t rows, int T, int H, int D) {
  const int64_t row = globalWarp();
  float dot = 0.0f;
  if (row < rows)
    for (int d = laneIndex(); d < D; d += kWarpSize) {
      dot += o[row * D + d] * dout[row * D + d];
      dq[row * D + d] = 0.0f;
    }
  dot = warpSum(dot);
  if (row < rows && laneIndex() == 0) {
    const int64_t token = row / H; // b·T + t
    delta[(token / T * H + row % H) * T + token % T] = dot;
  }
}

/// dq [B, T, H, D] += the gradients through one key tile, dk and dv
/// [B, T, Hkv, D] of its keys; grid (B·Hkv, tileCount(T, kBackwardKeyTile)),
/// kAttentionThreads threads. dq must be zero (attentionRowDots) before the
/// first block adds to it.
template <int D>
__global__ void __launch_bounds__(kAttentionThreads, 1)
    causalAttentionBackwardKernel(
        const float *__restrict__ q,     // [B, T, H, D]
        const float *__restrict__ k,     // [B, T, Hkv, D]
        const float *__restrict__ v,     // [B, T, Hkv, D]
        const float *__restrict__ dout,  // [B, T, H, D]
        const float *__restrict__ lse,   // [B, H, T]
        const float *__restrict__ delta, // [B, H, T]
        float *__restrict__ dq,          // [B, T, H, D]
        float *__restrict__ dk,          // [B, T, Hkv, D]
        float *__restrict__ dv,          // [B, T, Hkv, D]
        int T, int H, int Hkv, float scale) {
  constexpr int KeyTile = kBackwardKeyTile;
  constexpr int QueryTile = backwardQueryTile(D);
  static_assert(D % 16 == 0 && QueryTile % 16 == 0, "whole mma k steps");
  static_assert(KeyTile % QueryTile == 0,
                "query tiles start where key tiles do");
  // dQ's tile is split into 16-row groups, each between the same number of
  // warps, each of those taking the same number of 8-column tiles.
  constexpr int RowGroups = QueryTile / kWarpRows;
  constexpr int WarpsPerRowGroup = kAttentionWarps / RowGroups;
  constexpr int QueryGradTiles = D / 8 / WarpsPerRowGroup;
  static_assert(kAttentionWarps % RowGroups == 0 &&
                    (D / 8) % WarpsPerRowGroup == 0,
                "dQ's tile splits evenly between the warps");
  alignas(16) GPTC_SHARED_ARRAY(uint16_t, keyTile, KeyTile * tileStride(D));
  alignas(16) GPTC_SHARED_ARRAY(uint16_t, valueTile, KeyTile * tileStride(D));
  alignas(16) GPTC_SHARED_ARRAY(uint16_t, queryTile, QueryTile * tileStride(D));
  alignas(16)
      GPTC_SHARED_ARRAY(uint16_t, outGradTile, QueryTile * tileStride(D));
  alignas(16) GPTC_SHARED_ARRAY(uint16_t, scoreGradTile,
                                QueryTile * tileStride(KeyTile));
  GPTC_SHARED_ARRAY(float, lseTile, QueryTile);   // lse·log2e, +inf past T
  GPTC_SHARED_ARRAY(float, deltaTile, QueryTile); // Δ, 0 past T

  const int b = blockIdx.x / Hkv, kvHead = blockIdx.x % Hkv;
  const int firstKey = blockIdx.y * KeyTile;
  const int warp = threadIdx.x / kWarpSize, warpRow = warp * kWarpRows;
  const int g = laneGroup(), t = laneInGroup();
  // This lane's rows of the warp's transposed accumulators: g and g + 8.
  const int keys[2] = {firstKey + warpRow + g, firstKey + warpRow + g + 8};
  const float log2Scale = scale * kLog2e;

  const int64_t kvOffset = tokenOffset(b, firstKey, kvHead, T, Hkv, D);
  loadTile<KeyTile, D>(keyTile, k + kvOffset, int64_t(Hkv) * D, T - firstKey);
  loadTile<KeyTile, D>(valueTile, v + kvOffset, int64_t(Hkv) * D, T - firstKey);

  float keyGrads[D / 8][4] = {};   // dK / scale
  float valueGrads[D / 8][4] = {}; // dV
  const int group = H / Hkv;
  for (int h = kvHead * group; h < (kvHead + 1) * group; ++h)
    // Queries before firstKey see none of the tile's keys.
    for (int firstQuery = firstKey; firstQuery < T; firstQuery += QueryTile) {
      __syncthreads(); // the previous step is done with Q, dO and dS
      const int64_t queryOffset = tokenOffset(b, firstQuery, h, T, H, D);
      loadTile<QueryTile, D>(queryTile, q + queryOffset, int64_t(H) * D,
                             T - firstQuery);
      loadTile<QueryTile, D>(outGradTile, dout + queryOffset, int64_t(H) * D,
                             T - firstQuery);
      for (int r = threadIdx.x; r < QueryTile; r += kAttentionThreads) {
        const int64_t statistic = (int64_t(b) * H + h) * T + firstQuery + r;
        const bool valid = firstQuery + r < T;
        lseTile[r] = valid ? lse[statistic] * kLog2e : INFINITY;
        deltaTile[r] = valid ? delta[statistic] : 0.0f;
      }
      __syncthreads();

      float weights[QueryTile / 8][4] = {};    // Sᵀ, then Pᵀ
      float scoreGrads[QueryTile / 8][4] = {}; // dPᵀ, then dSᵀ
      for (int kStep = 0; kStep < D / 16; ++kStep) {
        uint32_t keyFragment[4], valueFragment[4];
        loadA<D>(keyFragment, keyTile, warpRow, 16 * kStep);
        loadA<D>(valueFragment, valueTile, warpRow, 16 * kStep);
        for (int n = 0; n < QueryTile / 8; ++n) {
          uint32_t fragment[2];
          loadBColMajor<D>(fragment, queryTile, 8 * n, 16 * kStep);
          mmaBf16(weights[n], keyFragment, fragment);
          loadBColMajor<D>(fragment, outGradTile, 8 * n, 16 * kStep);
          mmaBf16(scoreGrads[n], valueFragment, fragment);
        }
      }

      // Keys past T are in the future of every query, and queries past T
      // have lse = +inf: both get P = 0.
      const bool masked = tileNeedsMask(firstQuery, firstKey, KeyTile);
      for (int n = 0; n < QueryTile / 8; ++n)
        for (int e = 0; e < 4; ++e) {
          const int column = 8 * n + 2 * t + e % 2;
          const float weight =
              masked && keys[e / 2] > firstQuery + column
                  ? 0.0f
                  : fastExp2(fmaf(weights[n][e], log2Scale, -lseTile[column]));
          weights[n][e] = weight;
          scoreGrads[n][e] = weight * (scoreGrads[n][e] - deltaTile[column]);
        }

      for (int kStep = 0; kStep < QueryTile / 16; ++kStep) {
        uint32_t weightFragment[4], scoreGradFragment[4];
        accumulatorsToA(weightFragment, weights[2 * kStep],
                        weights[2 * kStep + 1]);
        accumulatorsToA(scoreGradFragment, scoreGrads[2 * kStep],
                        scoreGrads[2 * kStep + 1]);
        for (int n = 0; n < D / 8; ++n) {
          uint32_t fragment[2];
          loadBRowMajor<D>(fragment, outGradTile, 16 * kStep, 8 * n);
          mmaBf16(valueGrads[n], weightFragment, fragment);
          loadBRowMajor<D>(fragment, queryTile, 16 * kStep, 8 * n);
          mmaBf16(keyGrads[n], scoreGradFragment, fragment);
        }
      }

      for (int n = 0; n < QueryTile / 8; ++n)
        for (int e = 0; e < 4; ++e)
          scoreGradTile[(8 * n + 2 * t + e % 2) * tileStride(KeyTile) +
                        warpRow + g + 8 * (e / 2)] =
              floatToBf16(scoreGrads[n][e]);
      __syncthreads();

      // dQ += scale·dS·K over this warp's rows and columns of the tile.
      const int queryRow = warp % RowGroups * kWarpRows;
      const int firstColumn = warp / RowGroups * QueryGradTiles * 8;
      float queryGrads[QueryGradTiles][4] = {};
      for (int kStep = 0; kStep < KeyTile / 16; ++kStep) {
        uint32_t scoreGradFragment[4];
        loadA<KeyTile>(scoreGradFragment, scoreGradTile, queryRow, 16 * kStep);
        for (int n = 0; n < QueryGradTiles; ++n) {
          uint32_t fragment[2];
          loadBRowMajor<D>(fragment, keyTile, 16 * kStep, firstColumn + 8 * n);
          mmaBf16(queryGrads[n], scoreGradFragment, fragment);
        }
      }
      for (int r = 0; r < 2; ++r) {
        const int query = firstQuery + queryRow + g + 8 * r;
        if (query >= T)
          continue;
        float *dqRow = dq + tokenOffset(b, query, h, T, H, D) + firstColumn;
        for (int n = 0; n < QueryGradTiles; ++n) {
          atomicAdd(dqRow + 8 * n + 2 * t, scale * queryGrads[n][2 * r]);
          atomicAdd(dqRow + 8 * n + 2 * t + 1,
                    scale * queryGrads[n][2 * r + 1]);
        }
      }
    }

  for (int r = 0; r < 2; ++r) {
    if (keys[r] >= T)
      continue;
    const int64_t offset = tokenOffset(b, keys[r], kvHead, T, Hkv, D);
    for (int n = 0; n < D / 8; ++n) {
      *reinterpret_cast<float2 *>(dk + offset + 8 * n + 2 * t) = make_float2(
          scale * keyGrads[n][2 * r], scale * keyGrads[n][2 * r + 1]);
      *reinterpret_cast<float2 *>(dv + offset + 8 * n + 2 * t) =
          make_float2(valueGrads[n][2 * r], valueGrads[n][2 * r + 1]);
    }
  }
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_ATTENTIONBACKWARD_CUH
