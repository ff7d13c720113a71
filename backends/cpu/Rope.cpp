//===- Rope.cpp - rotary position embedding -------------------------------===//
//
// nanochat's rotary embedding: channel j of a head pairs with channel
// j + D/2. The cos/sin tables are built once per call in float32, the way
// torch builds nanochat's buffers, so results match it bit for bit up to the
// last-ulp differences of the math library's cosf/sinf. The inverse rotation
// (rope's gradient) is the same rotation with the sine negated.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"

#include <algorithm>

#include <cmath>
#include <vector>

namespace gptc::cpu {

/// Rotates x[B, T, H, D] into y with row b's token t at position
/// `firstPositionOf(b) + t`; those positions must lie in [P0, P0 + P), the
/// positions the cos/sin tables are built for (a decode step needs one).
template <typename FirstPosition>
static void rotate(const float *x, // [B, T, H, D]
                   float *y,       // [B, T, H, D]
                   int64_t B, int64_t T, int64_t H, int64_t D, int64_t P0,
                   int64_t P, float base, int32_t roundBf16, int32_t inverse,
                   FirstPosition firstPositionOf) {
  const int64_t half = D / 2;

  // invFreq = 1.0 / (base ** (torch.arange(0, D, 2, dtype=float32) / D)).
  std::vector<float> invFreq(half);
  for (int64_t j = 0; j < half; ++j) {
    const float exponent = static_cast<float>(2 * j) / static_cast<float>(D);
    invFreq[j] = 1.0f / std::pow(base, exponent);
  }

  // cos/sin [P, D/2] of angle = float(P0 + p) · invFreq[j], in float32;
  // sin of −angle for the inverse.
  std::vector<float> cosTable(P * half), sinTable(P * half);
#pragma omp parallel for if (P > 16)
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t j = 0; j < half; ++j) {
      const float angle = static_cast<float>(P0 + p) * invFreq[j];
      float c = std::cos(angle), s = std::sin(angle);
      if (roundBf16) {
        c = roundToBf16(c);
        s = roundToBf16(s);
      }
      cosTable[p * half + j] = c;
      sinTable[p * half + j] = inverse ? -s : s;
    }
  }

#pragma omp parallel for collapse(2) if (B * T > 1)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      const int64_t position = firstPositionOf(b) + t - P0;
      const float *cosRow = cosTable.data() + position * half;
      const float *sinRow = sinTable.data() + position * half;
      for (int64_t h = 0; h < H; ++h) {
        const float *xHead = x + ((b * T + t) * H + h) * D;
        float *yHead = y + ((b * T + t) * H + h) * D;
#pragma omp simd
        for (int64_t j = 0; j < half; ++j) {
          const float first = xHead[j], second = xHead[j + half];
          yHead[j] = first * cosRow[j] + second * sinRow[j];
          yHead[j + half] = -first * sinRow[j] + second * cosRow[j];
        }
      }
    }
  }
}

void rope(const float *x, // [B, T, H, D]
          float *y,       // [B, T, H, D]
          int64_t B, int64_t T, int64_t H, int64_t D, float base,
          int32_t roundBf16, int32_t inverse) {
  rotate(x, y, B, T, H, D, 0, T, base, roundBf16, inverse,
         [](int64_t) { return int64_t(0); });
}

void ropeAt(const float *x,           // [R, T, H, D]
            const int32_t *positions, // [R]
            float *y,                 // [R, T, H, D]
            int64_t R, int64_t T, int64_t H, int64_t D, float base,
            int32_t roundBf16) {
  int64_t begin = positions[0], end = 0;
  for (int64_t r = 0; r < R; ++r) {
    begin = std::min(begin, int64_t(positions[r]));
    end = std::max(end, int64_t(positions[r]) + T);
  }
  rotate(x, y, R, T, H, D, begin, end - begin, base, roundBf16,
         /*inverse=*/0, [&](int64_t r) { return int64_t(positions[r]); });
}

} // namespace gptc::cpu
