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
    std::vector<double> want(n);
    for (int64_t i = 0; i < n; ++i)
      want[i] = x[i] > 0 ? static_cast<double>(x[i]) * x[i] : 0.0;
    EXPECT_TRUE(ref::allClose(y, want, 0.0, 6e-8)) << "n = " << n;
  }
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
    std::vector<double> want(n);
    for (int64_t i = 0; i < n; ++i)
      want[i] = cap * std::tanh(static_cast<double>(x[i]) / cap);
    EXPECT_TRUE(ref::allClose(y, want, 0.0, 5e-7)) << "n = " << n;
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
