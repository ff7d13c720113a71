//===- AttentionBackward.cpp - fused causal attention gradient ------------===//
//
// FlashAttention-2's backward pass on the CPU. First the row dots
// Δ_i = dO_i·O_i. Then a task owns one tile of kTileK keys of one (batch,
// kv head): it keeps that tile's dK and dV in scratch and, for each query
// head of the group and each query tile from the diagonal on, recomputes
// the tile's attention weights from the forward's log-sum-exp and adds the
// tile's share of every gradient:
//
//   S = scale·Q·Kᵀ, P = exp(S − lse) (0 where the key is in the future),
//   dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − Δ),
//   dK += scale·dSᵀ·Q, dQ += scale·dS·K.
//
// Only dQ is shared between tasks; each thread adds its share to a private
// buffer and the buffers are summed in thread order at the end. Tasks are
// pairs of key tiles (i, n−1−i), which see n+1 query tiles together, and are
// handed out statically: the work is balanced, and which thread adds what to
// dQ, so the result, is fixed for a fixed thread count.
//
// The products run on the register-blocked tiles of AttentionTiles.h. Q
// (scaled) and dO are first repacked per head into contiguous rows, zero
// past T (in the same pass as Δ): read in place, their rows H·D floats
// apart would fall into a few cache sets and evict each other. Each task
// copies its K tile as rows and transposes its K and V tiles ([D, kTileK])
// for the scores S and dP. On the diagonal the sums of dV, dK and dQ skip
// the weights known to be 0.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/AttentionTiles.h"
#include "backends/cpu/Kernels.h"

#include <algorithm>

#include <omp.h>

namespace gptc::cpu {
namespace {

// Query rows per tile: as many as keys, so a key tile's diagonal query tile
// starts at its first key.
constexpr int64_t kTileQ = kTileK;
static_assert(kTileQ % kBlockRows == 0, "a tile is whole register blocks");

/// Per-thread working memory of one task.
struct BackwardScratch {
  explicit BackwardScratch(int64_t D)
      : keys(kTileK * D), keysT(D * kTileK), valuesT(D * kTileK),
        keyGrads(kTileK * D), valueGrads(kTileK * D), weights(kTileQ * kTileK),
        scoreGrads(kTileQ * kTileK) {}

  AlignedFloats keys;       // [kTileK, D], the key tile, zero-padded rows
  AlignedFloats keysT;      // [D, kTileK], the key tile transposed
  AlignedFloats valuesT;    // [D, kTileK], its values transposed
  AlignedFloats keyGrads;   // [kTileK, D], dK of the key tile
  AlignedFloats valueGrads; // [kTileK, D], dV of the key tile
  AlignedFloats weights;    // [kTileQ, kTileK], S then P
  AlignedFloats scoreGrads; // [kTileQ, kTileK], dP then dS
};

/// The tensors of one causalAttentionBackward call and their dimensions.
/// paddedT is T rounded up to whole query tiles.
struct BackwardProblem {
  const float *queries;  // [B, H, paddedT, D], scale · q, zero past T
  const float *outGrads; // [B, H, paddedT, D], dout, zero past T
  const float *rowDots;  // [B, H, T], Δ = rowsum(dout∘o)
  const float *lse;      // [B, H, T]
  const float *k;        // [B, T, Hkv, D]
  const float *v;        // [B, T, Hkv, D]
  float *dk;             // [B, T, Hkv, D]
  float *dv;             // [B, T, Hkv, D]
  int64_t T, H, Hkv, D, paddedT;
};

/// Adds the share of query rows [i0, i0 + kTileQ) ∩ [0, T) of head h in
/// batch b to the gradients of the key tile [j0, j0 + keys) in `scratch`
/// (whose keys, keysT and valuesT are set) and to dqPartial
/// [B, H, paddedT, D], which receives dS·K without the factor scale.
void addQueryTile(const BackwardProblem &p, int64_t b, int64_t h, int64_t i0,
                  int64_t j0, int64_t keys, BackwardScratch &scratch,
                  float *dqPartial) {
  const int64_t T = p.T, H = p.H, D = p.D;
  const int64_t rows = std::min(kTileQ, T - i0);
  // Whole register blocks; padding rows are zero queries whose weights are
  // set to 0.
  const int64_t blockedRows = (rows + kBlockRows - 1) / kBlockRows * kBlockRows;
  const int64_t firstRow = (b * H + h) * p.paddedT + i0;
  const float *queries = p.queries + firstRow * D;
  const float *outGrads = p.outGrads + firstRow * D;
  float *weights = scratch.weights.data();
  float *scoreGrads = scratch.scoreGrads.data();
  for (int64_t r = 0; r < blockedRows; r += kBlockRows) {
    tileScores(queries + r * D, D, scratch.keysT.data(), D,
               weights + r * kTileK);
    tileScores(outGrads + r * D, D, scratch.valuesT.data(), D,
               scoreGrads + r * kTileK);
  }

  const float *rowLse = p.lse + (b * H + h) * T + i0;
  const float *rowDots = p.rowDots + (b * H + h) * T + i0;
  for (int64_t r = 0; r < blockedRows; ++r) {
    // Key j0 + j is visible to query i0 + r iff j <= i0 + r - j0.
    const int64_t visible =
        r < rows ? std::clamp<int64_t>(i0 + r + 1 - j0, 0, keys) : 0;
    const float lse = r < rows ? rowLse[r] : 0.0f;
    const float rowDot = r < rows ? rowDots[r] : 0.0f;
    float *weightRow = weights + r * kTileK;
    float *scoreGradRow = scoreGrads + r * kTileK;
#pragma omp simd
    for (int64_t j = 0; j < kTileK; ++j) {
      const float weight = j < visible ? fastExp(weightRow[j] - lse) : 0.0f;
      weightRow[j] = weight;
      scoreGradRow[j] = weight * (scoreGradRow[j] - rowDot);
    }
  }

  // dV += Pᵀ·dO and dK += dSᵀ·(scale·Q), kBlockRows keys at a time; key
  // j0 + j gets nothing from the query rows before i0 + first.
  for (int64_t j = 0; j < keys; j += kBlockRows) {
    const int64_t first = std::max<int64_t>(0, j0 + j - i0);
    if (first >= rows)
      break;
    multiplyAddRows(weights + first * kTileK + j, 1, kTileK,
                    outGrads + first * D, D, rows - first,
                    scratch.valueGrads.data() + j * D, D, D);
    multiplyAddRows(scoreGrads + first * kTileK + j, 1, kTileK,
                    queries + first * D, D, rows - first,
                    scratch.keyGrads.data() + j * D, D, D);
  }

  // dQ += dS·K, kBlockRows query rows at a time, over the keys they see.
  float *dqRows = dqPartial + firstRow * D;
  for (int64_t r = 0; r < blockedRows; r += kBlockRows) {
    const int64_t seen = std::min(keys, i0 + r + kBlockRows - j0);
    multiplyAddRows(scoreGrads + r * kTileK, kTileK, 1, scratch.keys.data(), D,
                    seen, dqRows + r * D, D, D);
  }
}

/// All gradients of the key tile starting at key j0 of kv head kvHead in
/// batch b: dk and dv of its keys, and its share of dq into dqPartial.
void keyTileGradients(const BackwardProblem &p, int64_t b, int64_t kvHead,
                      int64_t j0, BackwardScratch &scratch, float *dqPartial) {
  const int64_t T = p.T, Hkv = p.Hkv, D = p.D;
  const int64_t keys = std::min(kTileK, T - j0);
  const int64_t first = ((b * T + j0) * Hkv + kvHead) * D;
  copyRows(p.k + first, Hkv * D, keys, D, kTileK, scratch.keys.data());
  transposeTile(p.k + first, Hkv * D, keys, D, scratch.keysT.data());
  transposeTile(p.v + first, Hkv * D, keys, D, scratch.valuesT.data());
  scratch.keyGrads.fill(0.0f);
  scratch.valueGrads.fill(0.0f);

  const int64_t group = p.H / Hkv;
  for (int64_t h = kvHead * group; h < (kvHead + 1) * group; ++h)
    for (int64_t i0 = j0; i0 < T; i0 += kTileQ)
      addQueryTile(p, b, h, i0, j0, keys, scratch, dqPartial);

  for (int64_t j = 0; j < keys; ++j) {
    std::copy(scratch.keyGrads.data() + j * D,
              scratch.keyGrads.data() + (j + 1) * D,
              p.dk + first + j * Hkv * D);
    std::copy(scratch.valueGrads.data() + j * D,
              scratch.valueGrads.data() + (j + 1) * D,
              p.dv + first + j * Hkv * D);
  }
}

} // namespace

void causalAttentionBackward(const float *q,    // [B, T, H, D]
                             const float *k,    // [B, T, Hkv, D]
                             const float *v,    // [B, T, Hkv, D]
                             const float *o,    // [B, T, H, D]
                             const float *lse,  // [B, H, T]
                             const float *dout, // [B, T, H, D]
                             float *dq,         // [B, T, H, D]
                             float *dk,         // [B, T, Hkv, D]
                             float *dv,         // [B, T, Hkv, D]
                             int64_t B, int64_t T, int64_t H, int64_t Hkv,
                             int64_t D, float scale) {
  const int64_t keyTiles = (T + kTileK - 1) / kTileK;
  const int64_t tilePairs = (keyTiles + 1) / 2;
  const int64_t paddedT = keyTiles * kTileQ;
  // Floats of a tensor repacked per head, [B, H, paddedT, D].
  const int64_t packedSize = B * H * paddedT * D;
  float *queries = workspace(0, packedSize);
  float *outGrads = workspace(1, packedSize);
  // Per-thread dq buffers, [threads, B, H, paddedT, D].
  float *partials = workspace(2, omp_get_max_threads() * packedSize);
  float *rowDots = workspace(3, B * H * T);
  BackwardProblem problem;
  problem.queries = queries;
  problem.outGrads = outGrads;
  problem.rowDots = rowDots;
  problem.lse = lse;
  problem.k = k;
  problem.v = v;
  problem.dk = dk;
  problem.dv = dv;
  problem.T = T;
  problem.H = H;
  problem.Hkv = Hkv;
  problem.D = D;
  problem.paddedT = paddedT;

#pragma omp parallel
  {
    const int threads = omp_get_num_threads();
    float *dqPartial = partials + omp_get_thread_num() * packedSize;
    std::fill(dqPartial, dqPartial + packedSize, 0.0f);

#pragma omp for collapse(3)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < paddedT; ++t)
        for (int64_t h = 0; h < H; ++h) {
          float *queryRow = queries + ((b * H + h) * paddedT + t) * D;
          float *outGradRow = outGrads + ((b * H + h) * paddedT + t) * D;
          if (t >= T) {
            std::fill(queryRow, queryRow + D, 0.0f);
            std::fill(outGradRow, outGradRow + D, 0.0f);
            continue;
          }
          const int64_t row = ((b * T + t) * H + h) * D;
          float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
          for (int64_t d = 0; d < D; ++d) {
            queryRow[d] = scale * q[row + d];
            outGradRow[d] = dout[row + d];
            dot += o[row + d] * dout[row + d];
          }
          rowDots[(b * H + h) * T + t] = dot;
        }

    BackwardScratch scratch(D);
#pragma omp for collapse(3) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t kvHead = 0; kvHead < Hkv; ++kvHead)
        for (int64_t pair = 0; pair < tilePairs; ++pair) {
          keyTileGradients(problem, b, kvHead, pair * kTileK, scratch,
                           dqPartial);
          const int64_t mirror = keyTiles - 1 - pair;
          if (mirror != pair)
            keyTileGradients(problem, b, kvHead, mirror * kTileK, scratch,
                             dqPartial);
        }

#pragma omp for collapse(3)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < H; ++h) {
          float *dqRow = dq + ((b * T + t) * H + h) * D;
          const float *partialRow = partials + ((b * H + h) * paddedT + t) * D;
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) {
            float sum = 0.0f;
            for (int thread = 0; thread < threads; ++thread)
              sum += partialRow[thread * packedSize + d];
            dqRow[d] = scale * sum;
          }
        }
  }
}

} // namespace gptc::cpu
