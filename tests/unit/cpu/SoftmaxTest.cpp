//===- SoftmaxTest.cpp - tests of causalMask and softmax ------------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

namespace gptc::cpu {
namespace {

const float kInf = std::numeric_limits<float>::infinity();

TEST(CausalMask, KeepsLowerTriangle) {
  // A select: exact.
  for (int64_t T : {1, 7, 33, 130}) {
    const int64_t rows = 3;
    const std::vector<float> x = ref::randomFloats(rows * T * T, 50);
    std::vector<float> y(rows * T * T);
    causalMask(x.data(), y.data(), rows, T);
    std::vector<double> want(rows * T * T);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j)
          want[(r * T + i) * T + j] = j <= i ? x[(r * T + i) * T + j] : -kInf;
    for (size_t e = 0; e < y.size(); ++e)
      ASSERT_EQ(static_cast<double>(y[e]), want[e]) << "T = " << T << ", " << e;
  }
}

TEST(Softmax, MatchesReference) {
  // fastExp is within 4 ulp, the float row sum over ≤ 4099 terms adds
  // ~cols·2^-24 worst case (vector lanes make it far less), then one
  // division: atol 1e-7 on probabilities ≤ 1 plus rtol 2e-6 covers it.
  const int64_t shapes[][2] = {{1, 1}, {3, 7}, {33, 65}, {16, 130}, {4, 4099}};
  uint32_t seed = 60;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], cols = shape[1];
    const std::vector<float> x =
        ref::randomFloats(rows * cols, ++seed, -20, 20);
    std::vector<float> y(rows * cols);
    softmax(x.data(), y.data(), rows, cols);
    EXPECT_TRUE(ref::allClose(y, ref::softmax(x, rows, cols), 1e-7, 2e-6))
        << rows << "x" << cols;
  }
}

TEST(Softmax, MaskedEntriesGetZero) {
  // Rows of a causal mask: -inf entries must become exactly 0 and a row
  // with a single finite entry exactly one-hot.
  const int64_t T = 33;
  std::vector<float> scores = ref::randomFloats(T * T, 70, -5, 5);
  std::vector<float> masked(T * T), y(T * T);
  causalMask(scores.data(), masked.data(), 1, T);
  softmax(masked.data(), y.data(), T, T);
  EXPECT_EQ(y[0], 1.0f);
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = i + 1; j < T; ++j)
      ASSERT_EQ(y[i * T + j], 0.0f) << i << ", " << j;
  EXPECT_TRUE(ref::allClose(y, ref::softmax(masked, T, T), 1e-7, 2e-6));
}

TEST(Softmax, AllMinusInfinityRowIsNaN) {
  const std::vector<float> x(5, -kInf);
  std::vector<float> y(5);
  softmax(x.data(), y.data(), 1, 5);
  for (float value : y)
    EXPECT_TRUE(std::isnan(value));
}

} // namespace
} // namespace gptc::cpu
