//===- Attention.cpp - fused causal attention forward ---------------------===//
//
// FlashAttention-2 on the CPU. A task owns kTileQ query rows of one (batch,
// kv head) and runs them for each query head of that kv head's group, so the
// group's heads stream the same K/V rows through the cache. For each query
// head the task walks the visible key tiles in order, keeping per row a
// running max m, a running sum l and an unnormalised output accumulator
// (online softmax), and normalises once at the end; no T×T matrix exists.
//
// K is first transposed, once per call, into contiguous tiles of kTileK keys
// ([D, kTileK] each). Per key tile, scores are then computed kBlockRows query
// rows at a time in registers (kBlockRows × kTileK floats); each row's scores
// become softmax weights; then the weights times the tile's V rows are added
// kBlockRows rows × kBlockCols output columns at a time, again in registers.
// All inner loops run unit-stride over a compile-time width so they
// vectorise to AVX-512.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

namespace gptc::cpu {
namespace {

// Query rows per task.
constexpr int64_t kTileQ = 64;
// Keys per tile: four AVX-512 vectors of scores per query row.
constexpr int64_t kTileK = 64;
// Query rows per register block; kBlockRows × kTileK scores or
// kBlockRows × kBlockCols output columns fill 16 vector registers.
constexpr int64_t kBlockRows = 4;
constexpr int64_t kBlockCols = 64;
static_assert(kTileQ % kBlockRows == 0, "a tile is whole register blocks");

/// Per-thread working memory of one task.
struct AttentionScratch {
  explicit AttentionScratch(int64_t D)
      : queries(kTileQ * D), accumulators(kTileQ * D), weights(kTileQ * kTileK),
        rowMax(kTileQ), rowSum(kTileQ) {}

  std::vector<float> queries;      // [kTileQ, D], scale · q, zero-padded rows
  std::vector<float> accumulators; // [kTileQ, D], unnormalised output rows
  std::vector<float> weights;      // [kTileQ, kTileK], scores then weights
  std::vector<float> rowMax;       // [kTileQ], running max m
  std::vector<float> rowSum;       // [kTileQ], running sum l
};

/// keysT[tiles, D, kTileK] = k[T, D] (row stride `stride`) cut into tiles
/// of kTileK keys, each transposed, zero past key T.
void transposeKeys(const float *k, int64_t stride, int64_t T, int64_t tiles,
                   int64_t D, float *keysT) {
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t j0 = tile * kTileK;
    const int64_t keys = std::min(kTileK, T - j0);
    for (int64_t d = 0; d < D; ++d) {
      float *column = keysT + (tile * D + d) * kTileK;
      for (int64_t j = 0; j < keys; ++j)
        column[j] = k[(j0 + j) * stride + d];
      std::fill(column + keys, column + kTileK, 0.0f);
    }
  }
}

/// scores[kBlockRows, kTileK] = queries[kBlockRows, D] · keysT[D, kTileK].
void blockScores(const float *queries, const float *keysT, int64_t D,
                 float *scores) {
  float block[kBlockRows][kTileK] = {};
  for (int64_t d = 0; d < D; ++d) {
    const float *column = keysT + d * kTileK;
    for (int64_t r = 0; r < kBlockRows; ++r) {
      const float qd = queries[r * D + d];
#pragma omp simd
      for (int64_t j = 0; j < kTileK; ++j)
        block[r][j] += qd * column[j];
    }
  }
  for (int64_t r = 0; r < kBlockRows; ++r)
    std::copy(block[r], block[r] + kTileK, scores + r * kTileK);
}

/// Turns one query row's scores[kTileK] into softmax weights against its
/// running state: weights past `visible` become 0, m and l are updated and
/// the row's accumulator[D] is rescaled to the new max.
void softmaxRow(float *scores, int64_t visible, float &m, float &l,
                float *accumulator, int64_t D) {
  const float newMax = maxOf(scores, visible, m);
  float tileSum = 0.0f;
#pragma omp simd reduction(+ : tileSum)
  for (int64_t j = 0; j < kTileK; ++j) {
    scores[j] = j < visible ? fastExp(scores[j] - newMax) : 0.0f;
    tileSum += scores[j];
  }
  // m is -inf before the first tile, which makes the correction 0.
  const float correction = fastExp(m - newMax);
  m = newMax;
  l = l * correction + tileSum;
#pragma omp simd
  for (int64_t d = 0; d < D; ++d)
    accumulator[d] *= correction;
}

/// accumulators[kBlockRows, D] += weights[kBlockRows, kTileK] (first `keys`
/// columns) · v[keys, D] (row stride `stride`).
void blockApply(const float *weights, const float *v, int64_t stride,
                int64_t keys, int64_t D, float *accumulators) {
  int64_t d0 = 0;
  for (; d0 + kBlockCols <= D; d0 += kBlockCols) {
    float block[kBlockRows][kBlockCols];
    for (int64_t r = 0; r < kBlockRows; ++r)
      std::copy(accumulators + r * D + d0,
                accumulators + r * D + d0 + kBlockCols, block[r]);
    for (int64_t j = 0; j < keys; ++j) {
      const float *vRow = v + j * stride + d0;
      for (int64_t r = 0; r < kBlockRows; ++r) {
        const float w = weights[r * kTileK + j];
#pragma omp simd
        for (int64_t c = 0; c < kBlockCols; ++c)
          block[r][c] += w * vRow[c];
      }
    }
    for (int64_t r = 0; r < kBlockRows; ++r)
      std::copy(block[r], block[r] + kBlockCols, accumulators + r * D + d0);
  }
  // Columns past the last whole block (D % kBlockCols): accumulate in place.
  if (d0 == D)
    return;
  for (int64_t j = 0; j < keys; ++j) {
    const float *vRow = v + j * stride;
    for (int64_t r = 0; r < kBlockRows; ++r) {
      const float w = weights[r * kTileK + j];
      float *accumulator = accumulators + r * D;
#pragma omp simd
      for (int64_t c = d0; c < D; ++c)
        accumulator[c] += w * vRow[c];
    }
  }
}

/// The tensors of one causalAttention call and their dimensions.
struct AttentionProblem {
  const float *q;     // [B, T, H, D]
  const float *keysT; // [B, Hkv, keyTiles, D, kTileK], from transposeKeys
  const float *v;     // [B, T, Hkv, D]
  float *o;           // [B, T, H, D]
  float *lse;         // [B, H, T]
  int64_t T, H, Hkv, D;
  int64_t headKeysT; // floats of keysT per (b, kv head)
  float scale;
};

/// Attention of query rows [i0, i0 + kTileQ) ∩ [0, T) of head h in batch b
/// against every key they can see, written to o and lse.
void attendQueryTile(const AttentionProblem &p, int64_t b, int64_t h,
                     int64_t i0, AttentionScratch &scratch) {
  const int64_t T = p.T, H = p.H, Hkv = p.Hkv, D = p.D;
  const int64_t kvHead = h / (H / Hkv);
  const int64_t rows = std::min(kTileQ, T - i0);
  // Whole register blocks; padding rows are zero queries whose results are
  // dropped.
  const int64_t blockedRows = (rows + kBlockRows - 1) / kBlockRows * kBlockRows;
  const float *headKeysT = p.keysT + (b * Hkv + kvHead) * p.headKeysT;
  const float *headValues = p.v + (b * T * Hkv + kvHead) * D;

  const float *qRows = p.q + ((b * T + i0) * H + h) * D;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < D; ++d)
      scratch.queries[r * D + d] = p.scale * qRows[r * H * D + d];
  std::fill(scratch.queries.begin() + rows * D, scratch.queries.end(), 0.0f);
  std::fill(scratch.accumulators.begin(), scratch.accumulators.end(), 0.0f);
  std::fill(scratch.rowMax.begin(), scratch.rowMax.end(),
            -std::numeric_limits<float>::infinity());
  std::fill(scratch.rowSum.begin(), scratch.rowSum.end(), 0.0f);

  // Keys past the tile's last query are invisible to all its rows.
  for (int64_t j0 = 0; j0 < i0 + rows; j0 += kTileK) {
    const int64_t keys = std::min(kTileK, i0 + rows - j0);
    for (int64_t r = 0; r < blockedRows; r += kBlockRows)
      blockScores(scratch.queries.data() + r * D, headKeysT + j0 * D, D,
                  scratch.weights.data() + r * kTileK);
    for (int64_t r = 0; r < blockedRows; ++r) {
      // Key j0 + j is visible to query i0 + r iff j <= i0 + r - j0.
      const int64_t visible = std::clamp<int64_t>(i0 + r + 1 - j0, 0, keys);
      softmaxRow(scratch.weights.data() + r * kTileK, visible,
                 scratch.rowMax[r], scratch.rowSum[r],
                 scratch.accumulators.data() + r * D, D);
    }
    for (int64_t r = 0; r < blockedRows; r += kBlockRows)
      blockApply(scratch.weights.data() + r * kTileK, headValues + j0 * Hkv * D,
                 Hkv * D, keys, D, scratch.accumulators.data() + r * D);
  }

  for (int64_t r = 0; r < rows; ++r) {
    const float inverseSum = 1.0f / scratch.rowSum[r];
    const float *accumulator = scratch.accumulators.data() + r * D;
    float *oRow = p.o + ((b * T + i0 + r) * H + h) * D;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d)
      oRow[d] = accumulator[d] * inverseSum;
    p.lse[(b * H + h) * T + i0 + r] =
        scratch.rowMax[r] + std::log(scratch.rowSum[r]);
  }
}

} // namespace

void causalAttention(const float *q, // [B, T, H, D]
                     const float *k, // [B, T, Hkv, D]
                     const float *v, // [B, T, Hkv, D]
                     float *o,       // [B, T, H, D]
                     float *lse,     // [B, H, T]
                     int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                     float scale) {
  const int64_t group = H / Hkv;
  const int64_t queryTiles = (T + kTileQ - 1) / kTileQ;
  const int64_t keyTiles = (T + kTileK - 1) / kTileK;
  const int64_t headKeysT = keyTiles * D * kTileK;
  // [B, Hkv, keyTiles, D, kTileK]; transposeKeys writes every element.
  std::unique_ptr<float[]> keysT(new float[B * Hkv * headKeysT]);
  AttentionProblem problem;
  problem.q = q;
  problem.keysT = keysT.get();
  problem.v = v;
  problem.o = o;
  problem.lse = lse;
  problem.T = T;
  problem.H = H;
  problem.Hkv = Hkv;
  problem.D = D;
  problem.headKeysT = headKeysT;
  problem.scale = scale;

#pragma omp parallel
  {
#pragma omp for collapse(2)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t kvHead = 0; kvHead < Hkv; ++kvHead)
        transposeKeys(k + (b * T * Hkv + kvHead) * D, Hkv * D, T, keyTiles, D,
                      keysT.get() + (b * Hkv + kvHead) * headKeysT);

    AttentionScratch scratch(D);
    // A task is one query tile of one (batch, kv head) for all the heads of
    // its group, which reuse the same K/V tiles from cache. Later query tiles
    // see more keys; handing them out first balances the dynamic schedule.
#pragma omp for collapse(3) schedule(dynamic)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t kvHead = 0; kvHead < Hkv; ++kvHead)
        for (int64_t reversed = 0; reversed < queryTiles; ++reversed)
          for (int64_t h = kvHead * group; h < (kvHead + 1) * group; ++h)
            attendQueryTile(problem, b, h, (queryTiles - 1 - reversed) * kTileQ,
                            scratch);
  }
}

} // namespace gptc::cpu
