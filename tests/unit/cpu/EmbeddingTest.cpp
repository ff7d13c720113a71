//===- EmbeddingTest.cpp - tests of the embedding lookup and gradient -----===//

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

/// embeddingBackward on a dtable filled with NaN, so that an element left
/// unwritten fails.
std::vector<float> runEmbeddingBackward(const std::vector<int32_t> &ids,
                                        const std::vector<float> &dy, int64_t V,
                                        int64_t C) {
  std::vector<float> dtable(V * C, std::numeric_limits<float>::quiet_NaN());
  embeddingBackward(ids.data(), dy.data(), dtable.data(),
                    static_cast<int64_t>(ids.size()), V, C);
  return dtable;
}

TEST(EmbeddingBackward, SumsRepeatedIdsExactly) {
  // dy holds multiples of 2^-10 below 1 in magnitude, and each table row
  // sums at most 130 of them: every partial sum is a multiple of 2^-10
  // below 2^8, exact in float, so the result must equal the reference
  // exactly. The ids are drawn from 5 of the V = 7 rows, so they repeat
  // (about 26 times each for n = 130), and the two rows never drawn must
  // come out 0. C = 150 spans two whole channel blocks and a ragged one.
  const int64_t V = 7, C = 150;
  for (int64_t n : {1, 7, 130}) {
    std::vector<int32_t> ids = ref::randomInts(n, 3, 0, V - 2);
    const std::vector<int32_t> steps = ref::randomInts(n * C, 4, -1024, 1024);
    std::vector<float> dy(n * C);
    for (int64_t i = 0; i < n * C; ++i)
      dy[i] = static_cast<float>(steps[i]) / 1024.0f;
    EXPECT_TRUE(ref::allClose(runEmbeddingBackward(ids, dy, V, C),
                              ref::embeddingBackward(ids, dy, V, C), 0.0, 0.0))
        << "n = " << n;
  }
}

TEST(EmbeddingBackward, SameResultForOneAndTwoThreads) {
  // Random dy, whose float sums do round: each element must still be summed
  // in the same order whatever the thread count.
  const int64_t V = 11, n = 300, C = 200;
  const std::vector<int32_t> ids = ref::randomInts(n, 5, 0, V);
  const std::vector<float> dy = ref::randomFloats(n * C, 6);
  std::vector<float> one, two;
  {
    ref::ThreadCount threadCount(1);
    one = runEmbeddingBackward(ids, dy, V, C);
  }
  {
    ref::ThreadCount threadCount(2);
    two = runEmbeddingBackward(ids, dy, V, C);
  }
  EXPECT_EQ(one, two);
}

TEST(EmbeddingBackward, GradientMatchesFiniteDifferences) {
  // L = Σ embedding(table)·dy is linear in the table: central differences in
  // double err only by rounding, 2^-53·|L|/h ≈ 1e-9: atol 1e-7.
  const int64_t V = 6, C = 5, n = 9;
  const std::vector<int32_t> ids = ref::randomInts(n, 7, 0, V);
  const std::vector<double> table = ref::widen(ref::randomFloats(V * C, 8));
  const std::vector<double> dy = ref::widen(ref::randomFloats(n * C, 9));
  auto loss = [&](const std::vector<double> &input) {
    return ref::dot(ref::embedding(input, ids, C), dy);
  };
  EXPECT_TRUE(ref::allClose(ref::embeddingBackward(ids, dy, V, C),
                            ref::finiteDifferences(loss, table), 1e-7, 0.0));
}

} // namespace
} // namespace gptc::cpu
