//===- ElementwiseTest.cpp - tests of the elementwise kernels -------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

namespace gptc::cpu {
namespace {

// Sizes below and above the kernels' parallel threshold (2^15), ragged.
const int64_t kSizes[] = {1, 7, 33, 1000, 100003};

TEST(Elementwise, Scale) {
  // One float product: correctly rounded, so within half an ulp (rtol 6e-8).
  for (int64_t n : kSizes) {
    const std::vector<float> x = ref::randomFloats(n, 20);
    std::vector<float> y(n);
    scale(x.data(), y.data(), n, 0.37f);
    std::vector<double> want(n);
    for (int64_t i = 0; i < n; ++i)
      want[i] = 0.37f * static_cast<double>(x[i]);
    EXPECT_TRUE(ref::allClose(y, want, 0.0, 6e-8)) << "n = " << n;
  }
}

TEST(Elementwise, Add) {
  // One float sum: correctly rounded, within half an ulp of the larger
  // operand, so the absolute error is below 2^-24 · 1 ≈ 6e-8 for |a|,|b| < 1.
  for (int64_t n : kSizes) {
    const std::vector<float> a = ref::randomFloats(n, 21);
    const std::vector<float> b = ref::randomFloats(n, 22);
    std::vector<float> y(n);
    add(a.data(), b.data(), y.data(), n);
    std::vector<double> want(n);
    for (int64_t i = 0; i < n; ++i)
      want[i] = static_cast<double>(a[i]) + b[i];
    EXPECT_TRUE(ref::allClose(y, want, 6e-8, 0.0)) << "n = " << n;
  }
}

TEST(Elementwise, ReluSquare) {
  // One float product of a value with itself: within half an ulp.
  for (int64_t n : kSizes) {
    const std::vector<float> x = ref::randomFloats(n, 23, -4, 4);
    std::vector<float> y(n);
    reluSquare(x.data(), y.data(), n);
    EXPECT_TRUE(ref::allClose(y, ref::reluSquare(x), 0.0, 6e-8)) << "n = " << n;
  }
}

TEST(Elementwise, Fill) {
  for (int64_t n : kSizes) {
    std::vector<float> y(n + 1, 5.0f);
    fill(y.data(), n, -0.25f);
    std::vector<double> want(n + 1, -0.25);
    want[n] = 5.0; // one past the end stays untouched
    EXPECT_TRUE(ref::allClose(y, want, 0.0, 0.0)) << "n = " << n;
  }
}

TEST(Elementwise, ReluSquareBackward) {
  // 2·relu(x) is exact and the product with dy is rounded once: within half
  // an ulp (rtol 6e-8). Negative x, and x = 0 exactly, give 0.
  for (int64_t n : kSizes) {
    std::vector<float> x = ref::randomFloats(n, 25, -4, 4);
    x[0] = 0.0f;
    const std::vector<float> dy = ref::randomFloats(n, 26);
    std::vector<float> dx(n);
    reluSquareBackward(x.data(), dy.data(), dx.data(), n);
    EXPECT_TRUE(ref::allClose(dx, ref::reluSquareBackward(x, dy), 0.0, 6e-8))
        << "n = " << n;
  }
}

TEST(Elementwise, ReluSquareGradientMatchesFiniteDifferences) {
  // L = Σ relu(x)²·dy in double. relu² is smooth away from 0 (inputs are
  // kept ≥ 1e-3 from it, beyond h) with third derivative 0, so central
  // differences err only by rounding, 2^-53·|L|/h ≈ 1e-9: atol 1e-7.
  const int64_t n = 200;
  std::vector<double> x = ref::widen(ref::randomFloats(n, 27, -2, 2));
  for (double &value : x)
    if (std::fabs(value) < 1e-3)
      value = 0.5;
  const std::vector<double> dy = ref::widen(ref::randomFloats(n, 28));
  auto loss = [&](const std::vector<double> &input) {
    return ref::dot(ref::reluSquare(input), dy);
  };
  EXPECT_TRUE(ref::allClose(ref::reluSquareBackward(x, dy),
                            ref::finiteDifferences(loss, x), 1e-7, 0.0));
}

TEST(Elementwise, Softcap) {
  // cap · tanh(x / cap): a rounded division, the kernel's tanh (Cephes'
  // tanhf, about 1.1 ulp measured) and a rounded product, so a few ulp of
  // the result: rtol 5e-7. Inputs reach ±4·cap so the saturated region and
  // both sides of the tanh's switch at |x/cap| = 0.625 are covered.
  const float cap = 15.0f;
  for (int64_t n : kSizes) {
    const std::vector<float> x = ref::randomFloats(n, 24, -60, 60);
    std::vector<float> y(n);
    softcap(x.data(), y.data(), n, cap);
    EXPECT_TRUE(ref::allClose(y, ref::softcap(x, cap), 0.0, 5e-7))
        << "n = " << n;
  }
}

TEST(Elementwise, SoftcapSpecialValues) {
  // Infinities saturate to ±cap, zero and tiny values pass through, NaN
  // propagates.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {inf, -inf, 0.0f, 1e-30f,
                                std::numeric_limits<float>::quiet_NaN()};
  std::vector<float> y(x.size());
  softcap(x.data(), y.data(), static_cast<int64_t>(x.size()), 30.0f);
  EXPECT_EQ(y[0], 30.0f);
  EXPECT_EQ(y[1], -30.0f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_FLOAT_EQ(y[3], 1e-30f);
  EXPECT_TRUE(std::isnan(y[4]));
}

} // namespace
} // namespace gptc::cpu
