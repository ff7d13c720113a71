//===- Embedding.cpp - token embedding lookup -----------------------------===//

#include "backends/cpu/Kernels.h"

#include <cassert>
#include <cstring>

namespace gptc::cpu {

void embedding(const float *table, // [V, C]
               const int32_t *ids, // [n]
               float *out,         // [n, C]
               int64_t n, int64_t V, int64_t C) {
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) {
    // The caller validated the ids; this only guards debug builds.
    assert(ids[i] >= 0 && ids[i] < V && "embedding id out of range");
    std::memcpy(out + i * C, table + static_cast<int64_t>(ids[i]) * C,
                static_cast<size_t>(C) * sizeof(float));
  }
}

} // namespace gptc::cpu
