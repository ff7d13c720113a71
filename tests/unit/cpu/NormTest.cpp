//===- NormTest.cpp - tests of rmsNorm ------------------------------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

namespace gptc::cpu {
namespace {

TEST(RmsNorm, MatchesReference) {
  // The sum of squares is accumulated in double, so the only float errors
  // are rounding the inverse rms and one product: ≤ 2 ulp, rtol 3e-7.
  const float eps = 1.1920929e-7f; // torch.finfo(float32).eps, F.rms_norm's
  const int64_t shapes[][2] = {{1, 7}, {3, 16}, {33, 130}, {5, 768}};
  uint32_t seed = 10;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], cols = shape[1];
    const std::vector<float> x = ref::randomFloats(rows * cols, ++seed, -3, 3);
    std::vector<float> y(rows * cols);
    rmsNorm(x.data(), y.data(), rows, cols, eps);
    EXPECT_TRUE(ref::allClose(y, ref::rmsNorm(x, rows, cols, eps), 0.0, 3e-7))
        << rows << "x" << cols;
  }
}

TEST(RmsNorm, EpsilonDominatesZeroRows) {
  // An all-zero row must come out as zeros, not NaN.
  const int64_t cols = 17;
  const std::vector<float> x(cols, 0.0f);
  std::vector<float> y(cols, 1.0f);
  rmsNorm(x.data(), y.data(), 1, cols, 1e-6f);
  EXPECT_TRUE(ref::allClose(y, std::vector<double>(cols, 0.0), 0.0, 0.0));
}

} // namespace
} // namespace gptc::cpu
