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
// ([D, kTileK] each), and V copied into contiguous rows per kv head (in
// place, rows Hkv·D floats apart would fall into a few cache sets). Per key
// tile, scores are then computed kBlockRows query rows at a time in
// registers; each row's scores become softmax weights; then the weights
// times the tile's V rows are added to the accumulators, again a register
// block at a time (AttentionTiles.h).
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/AttentionTiles.h"
#include "backends/cpu/Kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace gptc::cpu {
namespace {

// Query rows per task.
constexpr int64_t kTileQ = 64;
static_assert(kTileQ % kBlockRows == 0, "a tile is whole register blocks");

/// Per-thread working memory of one task.
struct AttentionScratch {
  explicit AttentionScratch(int64_t D)
      : queries(kTileQ * D), accumulators(kTileQ * D), weights(kTileQ * kTileK),
        rowMax(kTileQ), rowSum(kTileQ) {}

  AlignedFloats queries;      // [kTileQ, D], scale · q, zero-padded rows
  AlignedFloats accumulators; // [kTileQ, D], unnormalised output rows
  AlignedFloats weights;      // [kTileQ, kTileK], scores then weights
  std::vector<float> rowMax;  // [kTileQ], running max m
  std::vector<float> rowSum;  // [kTileQ], running sum l
};

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

/// The tensors of one causalAttention call and their dimensions.
struct AttentionProblem {
  const float *q;      // [B, T, H, D]
  const float *keysT;  // [B, Hkv, keyTiles, D, kTileK], transposed K tiles
  const float *values; // [B, Hkv, T, D], V per kv head
  float *o;            // [B, T, H, D]
  float *lse;          // [B, H, T]
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
  const float *headValues = p.values + (b * Hkv + kvHead) * T * D;

  const float *qRows = p.q + ((b * T + i0) * H + h) * D;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < D; ++d)
      scratch.queries.data()[r * D + d] = p.scale * qRows[r * H * D + d];
  std::fill(scratch.queries.data() + rows * D,
            scratch.queries.data() + kTileQ * D, 0.0f);
  scratch.accumulators.fill(0.0f);
  std::fill(scratch.rowMax.begin(), scratch.rowMax.end(),
            -std::numeric_limits<float>::infinity());
  std::fill(scratch.rowSum.begin(), scratch.rowSum.end(), 0.0f);

  // Keys past the tile's last query are invisible to all its rows.
  for (int64_t j0 = 0; j0 < i0 + rows; j0 += kTileK) {
    const int64_t keys = std::min(kTileK, i0 + rows - j0);
    for (int64_t r = 0; r < blockedRows; r += kBlockRows)
      tileScores(scratch.queries.data() + r * D, D, headKeysT + j0 * D, D,
                 scratch.weights.data() + r * kTileK);
    for (int64_t r = 0; r < blockedRows; ++r) {
      // Key j0 + j is visible to query i0 + r iff j <= i0 + r - j0.
      const int64_t visible = std::clamp<int64_t>(i0 + r + 1 - j0, 0, keys);
      softmaxRow(scratch.weights.data() + r * kTileK, visible,
                 scratch.rowMax[r], scratch.rowSum[r],
                 scratch.accumulators.data() + r * D, D);
    }
    for (int64_t r = 0; r < blockedRows; r += kBlockRows)
      multiplyAddRows(scratch.weights.data() + r * kTileK, kTileK, 1,
                      headValues + j0 * D, D, keys,
                      scratch.accumulators.data() + r * D, D, D);
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
  // [B, Hkv, keyTiles, D, kTileK]; transposeTile writes every element.
  float *keysT = workspace(0, B * Hkv * headKeysT);
  float *values = workspace(1, B * Hkv * T * D);
  AttentionProblem problem;
  problem.q = q;
  problem.keysT = keysT;
  problem.values = values;
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
#pragma omp for collapse(3)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t kvHead = 0; kvHead < Hkv; ++kvHead)
        for (int64_t tile = 0; tile < keyTiles; ++tile)
          transposeTile(k + ((b * T + tile * kTileK) * Hkv + kvHead) * D,
                        Hkv * D, std::min(kTileK, T - tile * kTileK), D,
                        keysT + (b * Hkv + kvHead) * headKeysT +
                            tile * D * kTileK);
#pragma omp for collapse(2)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t kvHead = 0; kvHead < Hkv; ++kvHead)
        copyRows(v + (b * T * Hkv + kvHead) * D, Hkv * D, T, D, T,
                 values + (b * Hkv + kvHead) * T * D);

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
