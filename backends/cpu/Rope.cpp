//===- Rope.cpp - rotary position embedding -------------------------------===//
//
// nanochat's rotary embedding: channel j of a head pairs with channel
// j + D/2. The cos/sin tables are built once per call in float32, the way
// torch builds nanochat's buffers, so results match it bit for bit up to the
// last-ulp differences of the math library's cosf/sinf.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"

#include <cmath>
#include <vector>

namespace gptc::cpu {

void rope(const float *x, // [B, T, H, D]
          float *y,       // [B, T, H, D]
          int64_t B, int64_t T, int64_t H, int64_t D, float base,
          int32_t roundBf16) {
  const int64_t half = D / 2;

  // invFreq = 1.0 / (base ** (torch.arange(0, D, 2, dtype=float32) / D)).
  std::vector<float> invFreq(half);
  for (int64_t j = 0; j < half; ++j) {
    const float exponent = static_cast<float>(2 * j) / static_cast<float>(D);
    invFreq[j] = 1.0f / std::pow(base, exponent);
  }

  // cos/sin [T, D/2] of angle = float(t) · invFreq[j], in float32.
  std::vector<float> cosTable(T * half), sinTable(T * half);
#pragma omp parallel for
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < half; ++j) {
      const float angle = static_cast<float>(t) * invFreq[j];
      float c = std::cos(angle), s = std::sin(angle);
      if (roundBf16) {
        c = roundToBf16(c);
        s = roundToBf16(s);
      }
      cosTable[t * half + j] = c;
      sinTable[t * half + j] = s;
    }
  }

#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      const float *cosRow = cosTable.data() + t * half;
      const float *sinRow = sinTable.data() + t * half;
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

} // namespace gptc::cpu
