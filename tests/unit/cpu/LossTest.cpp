//===- LossTest.cpp - tests of crossEntropy -------------------------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

namespace gptc::cpu {
namespace {

constexpr int32_t kIgnore = -1;

float runCrossEntropy(const std::vector<float> &logits,
                      const std::vector<int32_t> &targets, int64_t V) {
  float loss = 0.0f;
  crossEntropy(logits.data(), targets.data(), &loss,
               static_cast<int64_t>(targets.size()), V, kIgnore);
  return loss;
}

TEST(CrossEntropy, MatchesReferenceWithIgnoredRows) {
  // Sums run in double, exp is fastExp (≤ 4 ulp relative), so each row's
  // loss is off by about 4e-7·|lse|; the result is one float rounding of the
  // mean: rtol 2e-6 on losses of a few units. Logits span ±30 so the
  // max-subtraction matters.
  const int64_t shapes[][2] = {{1, 5}, {7, 65}, {33, 1000}, {130, 4099}};
  uint32_t seed = 30;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], V = shape[1];
    const std::vector<float> logits =
        ref::randomFloats(rows * V, ++seed, -30, 30);
    std::vector<int32_t> targets = ref::randomInts(rows, ++seed, 0, V);
    // Ignore every third row after the first.
    for (int64_t r = 1; r < rows; r += 3)
      targets[r] = kIgnore;
    const double want = ref::crossEntropy(logits, targets, V, kIgnore);
    EXPECT_NEAR(runCrossEntropy(logits, targets, V), want,
                2e-6 * std::fabs(want))
        << rows << "x" << V;
  }
}

TEST(CrossEntropy, IgnoredRowsDoNotContribute) {
  // Changing the logits of ignored rows must not change the loss at all.
  const int64_t rows = 9, V = 40;
  std::vector<float> logits = ref::randomFloats(rows * V, 40, -5, 5);
  std::vector<int32_t> targets = ref::randomInts(rows, 41, 0, V);
  targets[2] = targets[5] = kIgnore;
  const float before = runCrossEntropy(logits, targets, V);
  for (int64_t j = 0; j < V; ++j)
    logits[2 * V + j] = logits[5 * V + j] = 1000.0f;
  EXPECT_EQ(runCrossEntropy(logits, targets, V), before);
}

TEST(CrossEntropy, AllIgnoredIsNaN) {
  const int64_t rows = 4, V = 10;
  const std::vector<float> logits = ref::randomFloats(rows * V, 42);
  const std::vector<int32_t> targets(rows, kIgnore);
  EXPECT_TRUE(std::isnan(runCrossEntropy(logits, targets, V)));
}

TEST(CrossEntropy, UniformLogitsGiveLogV) {
  // Equal logits: every row's loss is exactly log V.
  const int64_t rows = 3, V = 1000;
  const std::vector<float> logits(rows * V, 2.5f);
  const std::vector<int32_t> targets = {0, 999, 500};
  EXPECT_NEAR(runCrossEntropy(logits, targets, V), std::log(1000.0), 1e-6);
}

} // namespace
} // namespace gptc::cpu
