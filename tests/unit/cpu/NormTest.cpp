//===- NormTest.cpp - tests of rmsNorm and its gradient -------------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

namespace gptc::cpu {
namespace {

// torch.finfo(float32).eps, F.rms_norm's default.
constexpr float kEps = 1.1920929e-7f;

TEST(RmsNorm, MatchesReference) {
  // The sum of squares is accumulated in double, so the only float errors
  // are rounding the inverse rms and one product: ≤ 2 ulp, rtol 3e-7.
  const int64_t shapes[][2] = {{1, 7}, {3, 16}, {33, 130}, {5, 768}};
  uint32_t seed = 10;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], cols = shape[1];
    const std::vector<float> x = ref::randomFloats(rows * cols, ++seed, -3, 3);
    std::vector<float> y(rows * cols);
    rmsNorm(x.data(), y.data(), rows, cols, kEps);
    EXPECT_TRUE(ref::allClose(y, ref::rmsNorm(x, rows, cols, kEps), 0.0, 3e-7))
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

TEST(RmsNormBackward, MatchesReference) {
  // The row sums run in double, so dx = r·dy − c·x is two float products of
  // correctly rounded factors and one subtraction: within about 2 ulp of
  // the larger term, r·|dy| ≤ 0.7 here (measured ≤ 6e-8). The terms may
  // cancel, so the bound is absolute: atol 2.5e-7. A wrong coefficient errs
  // by ≥ 1e-2.
  const int64_t shapes[][2] = {{1, 7}, {3, 16}, {33, 130}, {5, 768}};
  uint32_t seed = 50;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], cols = shape[1];
    const std::vector<float> x = ref::randomFloats(rows * cols, ++seed, -3, 3);
    const std::vector<float> dy = ref::randomFloats(rows * cols, ++seed);
    std::vector<float> dx(rows * cols);
    rmsNormBackward(x.data(), dy.data(), dx.data(), rows, cols, kEps);
    EXPECT_TRUE(ref::allClose(dx, ref::rmsNormBackward(x, dy, rows, cols, kEps),
                              2.5e-7, 0.0))
        << rows << "x" << cols;
  }
}

TEST(RmsNormBackward, GradientMatchesFiniteDifferences) {
  // L = Σ rmsNorm(x)·dy in double, with a large eps (0.1) so that it
  // matters. |L| ≲ 30, so central differences err by about
  // 2^-53·30/1e-6 ≈ 3e-9 plus h²·|L‴| ≈ 1e-11: atol 1e-7, rtol 1e-6.
  const int64_t rows = 4, cols = 9;
  const float eps = 0.1f;
  const std::vector<double> x =
      ref::widen(ref::randomFloats(rows * cols, 60, -3, 3));
  const std::vector<double> dy = ref::widen(ref::randomFloats(rows * cols, 61));
  auto loss = [&](const std::vector<double> &input) {
    return ref::dot(ref::rmsNorm(input, rows, cols, eps), dy);
  };
  EXPECT_TRUE(ref::allClose(ref::rmsNormBackward(x, dy, rows, cols, eps),
                            ref::finiteDifferences(loss, x), 1e-7, 1e-6));
}

} // namespace
} // namespace gptc::cpu
