//===- AttentionTiles.h - register-blocked attention tiles ------*- C++ -*-===//
//
// Private to the CPU kernels: what causalAttention and its gradient share.
// Keys come in tiles of kTileK, and every product of the fused attention,
// forward or backward, is a small matrix product inside one tile pair. Those
// products are computed kBlockRows output rows at a time by
// multiplyAddRows, which keeps kBlockRows × kBlockCols sums in registers
// (16 AVX-512 vectors) while it streams the rows of its right-hand side.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_ATTENTIONTILES_H
#define GPTC_BACKENDS_CPU_ATTENTIONTILES_H

#include "backends/cpu/Workspace.h"

#include <algorithm>
#include <cstdint>

namespace gptc::cpu {

// Keys per tile: four AVX-512 vectors of scores per query row.
constexpr int64_t kTileK = 64;
// Output rows and columns of a register block; kBlockRows × kBlockCols
// floats fill 16 vector registers.
constexpr int64_t kBlockRows = 4;
constexpr int64_t kBlockCols = 64;
// Floats per AVX-512 vector: the narrowest register block.
constexpr int64_t kVectorFloats = 16;

/// dst[tileRows, D] = the `rows` rows of src[rows, D] that start `stride`
/// floats apart, then zero rows.
inline void copyRows(const float *src, int64_t stride, int64_t rows, int64_t D,
                     int64_t tileRows, float *dst) {
  for (int64_t r = 0; r < rows; ++r)
    std::copy(src + r * stride, src + r * stride + D, dst + r * D);
  std::fill(dst + rows * D, dst + tileRows * D, 0.0f);
}

/// columns[D, kTileK] = rows[count, D]ᵀ, where row j starts at
/// rows + j·stride; columns past `count` are zero.
inline void transposeTile(const float *rows, int64_t stride, int64_t count,
                          int64_t D, float *columns) {
  for (int64_t d = 0; d < D; ++d) {
    float *column = columns + d * kTileK;
    for (int64_t j = 0; j < count; ++j)
      column[j] = rows[j * stride + d];
    std::fill(column + count, column + kTileK, 0.0f);
  }
}

/// c[kBlockRows, Width] += a[kBlockRows, sums] · b[sums, Width], the sums
/// held in registers. Element (r, s) of a is a[r·aRowStride + s·aSumStride],
/// row s of b starts at b + s·bStride and row r of c at c + r·cStride.
template <int64_t Width>
inline void multiplyAddRegisters(const float *a, int64_t aRowStride,
                                 int64_t aSumStride, const float *b,
                                 int64_t bStride, int64_t sums, float *c,
                                 int64_t cStride) {
  float block[kBlockRows][Width];
  for (int64_t r = 0; r < kBlockRows; ++r)
    std::copy(c + r * cStride, c + r * cStride + Width, block[r]);
  for (int64_t s = 0; s < sums; ++s) {
    const float *bRow = b + s * bStride;
    for (int64_t r = 0; r < kBlockRows; ++r) {
      const float factor = a[r * aRowStride + s * aSumStride];
#pragma omp simd
      for (int64_t col = 0; col < Width; ++col)
        block[r][col] += factor * bRow[col];
    }
  }
  for (int64_t r = 0; r < kBlockRows; ++r)
    std::copy(block[r], block[r] + Width, c + r * cStride);
}

/// c[kBlockRows, width] += a[kBlockRows, sums] · b[sums, width] with the
/// strides of multiplyAddRegisters: register blocks of kBlockCols columns,
/// then of kVectorFloats, then the last columns in place.
inline void multiplyAddRows(const float *a, int64_t aRowStride,
                            int64_t aSumStride, const float *b, int64_t bStride,
                            int64_t sums, float *c, int64_t cStride,
                            int64_t width) {
  int64_t c0 = 0;
  for (; c0 + kBlockCols <= width; c0 += kBlockCols)
    multiplyAddRegisters<kBlockCols>(a, aRowStride, aSumStride, b + c0, bStride,
                                     sums, c + c0, cStride);
  for (; c0 + kVectorFloats <= width; c0 += kVectorFloats)
    multiplyAddRegisters<kVectorFloats>(a, aRowStride, aSumStride, b + c0,
                                        bStride, sums, c + c0, cStride);
  if (c0 == width)
    return;
  for (int64_t s = 0; s < sums; ++s) {
    const float *bRow = b + s * bStride;
    for (int64_t r = 0; r < kBlockRows; ++r) {
      const float factor = a[r * aRowStride + s * aSumStride];
      float *cRow = c + r * cStride;
#pragma omp simd
      for (int64_t col = c0; col < width; ++col)
        cRow[col] += factor * bRow[col];
    }
  }
}

/// scores[kBlockRows, kTileK] = rows[kBlockRows, D] · columns[D, kTileK]:
/// the dot products of kBlockRows rows, `stride` floats apart, with a
/// transposed tile.
inline void tileScores(const float *rows, int64_t stride, const float *columns,
                       int64_t D, float *scores) {
  std::fill(scores, scores + kBlockRows * kTileK, 0.0f);
  multiplyAddRegisters<kTileK>(rows, stride, 1, columns, kTileK, D, scores,
                               kTileK);
}

} // namespace gptc::cpu

#endif // GPTC_BACKENDS_CPU_ATTENTIONTILES_H
