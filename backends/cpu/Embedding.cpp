//===- Embedding.cpp - token embedding lookup and its gradient ------------===//
//
// The gradient scatters rows of dy into the table, where repeated ids add up.
// Threads split the table's channels rather than the positions, so every
// element sums its positions in the same order whatever the thread count and
// no two threads write the same element.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace gptc::cpu {
namespace {

// Channels per gradient task: four AVX-512 vectors, whole cache lines.
constexpr int64_t kChannelBlock = 64;

} // namespace

void embedding(const float *table, // [V, C]
               const int32_t *ids, // [n]
               float *out,         // [n, C]
               int64_t n, int64_t V, int64_t C) {
#pragma omp parallel for if (n * C >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    // The caller validated the ids; this only guards debug builds.
    assert(ids[i] >= 0 && ids[i] < V && "embedding id out of range");
    std::memcpy(out + i * C, table + static_cast<int64_t>(ids[i]) * C,
                static_cast<size_t>(C) * sizeof(float));
  }
}

void embeddingBackward(const int32_t *ids, // [n]
                       const float *dy,    // [n, C]
                       float *dtable,      // [V, C]
                       int64_t n, int64_t V, int64_t C) {
  const int64_t channelBlocks = (C + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel
  {
#pragma omp for
    for (int64_t id = 0; id < V; ++id)
      std::fill(dtable + id * C, dtable + (id + 1) * C, 0.0f);

#pragma omp for
    for (int64_t block = 0; block < channelBlocks; ++block) {
      const int64_t c0 = block * kChannelBlock;
      const int64_t width = std::min(kChannelBlock, C - c0);
      for (int64_t p = 0; p < n; ++p) {
        assert(ids[p] >= 0 && ids[p] < V && "embedding id out of range");
        const float *dyRow = dy + p * C + c0;
        float *dtableRow = dtable + static_cast<int64_t>(ids[p]) * C + c0;
#pragma omp simd
        for (int64_t c = 0; c < width; ++c)
          dtableRow[c] += dyRow[c];
      }
    }
  }
}

} // namespace gptc::cpu
