//===- EmbeddingTest.cpp - tests of the embedding lookup ------------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

namespace gptc::cpu {
namespace {

TEST(Embedding, CopiesTableRows) {
  // A lookup is a copy: the result must be exact.
  const int64_t V = 50, C = 33;
  for (int64_t n : {1, 7, 130}) {
    const std::vector<float> table = ref::randomFloats(V * C, 1);
    std::vector<int32_t> ids = ref::randomInts(n, 2, 0, V);
    ids[0] = V - 1;
    std::vector<float> out(n * C);
    embedding(table.data(), ids.data(), out.data(), n, V, C);
    EXPECT_TRUE(ref::allClose(out, ref::embedding(table, ids, C), 0.0, 0.0))
        << "n = " << n;
  }
}

} // namespace
} // namespace gptc::cpu
