//===- RopeTest.cpp - tests of the rotary embedding -----------------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

namespace gptc::cpu {
namespace {

struct RopeShape {
  int64_t B, T, H, D;
};

const RopeShape kShapes[] = {{1, 1, 1, 16},
                             {2, 7, 2, 32},
                             {1, 33, 4, 64},
                             {2, 130, 3, 16},
                             {1, 65, 1, 128}};
constexpr float kBase = 10000.0f;

std::vector<float> runRope(const std::vector<float> &x, const RopeShape &s,
                           int32_t roundBf16, int32_t inverse = 0) {
  std::vector<float> y(x.size());
  rope(x.data(), y.data(), s.B, s.T, s.H, s.D, kBase, roundBf16, inverse);
  return y;
}

TEST(Rope, MatchesReference) {
  // The reference builds the same float32 cos/sin tables (same cosf/sinf,
  // same bfloat16 rounding) and rotates in double; the kernel's float
  // rotation a·c + b·s has at most 2 roundings on values ≤ 2 in magnitude:
  // atol 5e-7. A wrong pairing, sign or bfloat16 rounding errs by ≥ 1e-3.
  uint32_t seed = 90;
  for (const RopeShape &s : kShapes) {
    const std::vector<float> x =
        ref::randomFloats(s.B * s.T * s.H * s.D, ++seed);
    for (int32_t roundBf16 : {0, 1}) {
      for (int32_t inverse : {0, 1}) {
        EXPECT_TRUE(ref::allClose(runRope(x, s, roundBf16, inverse),
                                  ref::rope(x, s.B, s.T, s.H, s.D, kBase,
                                            roundBf16 != 0, inverse != 0),
                                  5e-7, 0.0))
            << "T = " << s.T << ", D = " << s.D << ", roundBf16 = " << roundBf16
            << ", inverse = " << inverse;
      }
    }
  }
}

TEST(Rope, CloseToExactAngles) {
  // Against cos/sin of the exact angle t / base^(2j/D) in double: the float
  // angle is off by a few ulp, ≤ 130·4·2^-24 ≈ 3e-5 rad at t < 130, which
  // moves outputs of magnitude ≤ 1.5 by under 5e-5: atol 1e-4.
  uint32_t seed = 100;
  for (const RopeShape &s : kShapes) {
    const std::vector<float> x =
        ref::randomFloats(s.B * s.T * s.H * s.D, ++seed);
    EXPECT_TRUE(ref::allClose(runRope(x, s, 0),
                              ref::rope(x, s.B, s.T, s.H, s.D, kBase,
                                        /*roundToBf16=*/false,
                                        /*inverse=*/false,
                                        /*exactAngles=*/true),
                              1e-4, 0.0))
        << "T = " << s.T << ", D = " << s.D;
  }
}

TEST(Rope, RotatesEachPairExactly) {
  // Without bfloat16 rounding, (x[j], x[j + D/2]) is rotated: its norm is
  // kept to float rounding (cos² + sin² = 1 within 2 ulp, plus the
  // products): rtol 1e-6. Position 0 is the identity, exactly.
  const RopeShape s = {2, 130, 3, 64};
  const int64_t half = s.D / 2;
  const std::vector<float> x = ref::randomFloats(s.B * s.T * s.H * s.D, 110);
  const std::vector<float> y = runRope(x, s, 0);
  for (int64_t b = 0; b < s.B; ++b) {
    for (int64_t t = 0; t < s.T; ++t) {
      for (int64_t h = 0; h < s.H; ++h) {
        const int64_t head = ((b * s.T + t) * s.H + h) * s.D;
        for (int64_t j = 0; j < half; ++j) {
          const double a = x[head + j], c = x[head + j + half];
          const double ya = y[head + j], yc = y[head + j + half];
          const double before = a * a + c * c, after = ya * ya + yc * yc;
          ASSERT_NEAR(after, before, 1e-6 * before)
              << "b " << b << " t " << t << " h " << h << " j " << j;
          if (t == 0) {
            ASSERT_EQ(y[head + j], x[head + j]);
            ASSERT_EQ(y[head + j + half], x[head + j + half]);
          }
        }
      }
    }
  }
}

TEST(Rope, InverseUndoesRope) {
  // Without bfloat16 rounding the tables hold cos and sin of one float angle,
  // so the inverse rotation undoes the forward one up to float rounding:
  // cos² + sin² = 1 within 2 ulp, and 4 roundings of values ≤ 1.5: atol
  // 1e-6. (With bfloat16 tables cos² + sin² is off by up to 2^-8: the
  // inverse is then the transpose, which GradientMatchesFiniteDifferences
  // checks.)
  uint32_t seed = 120;
  for (const RopeShape &s : kShapes) {
    const std::vector<float> x =
        ref::randomFloats(s.B * s.T * s.H * s.D, ++seed);
    EXPECT_TRUE(ref::allClose(runRope(runRope(x, s, 0), s, 0, /*inverse=*/1),
                              ref::widen(x), 1e-6, 0.0))
        << "T = " << s.T << ", D = " << s.D;
  }
}

TEST(Rope, GradientMatchesFiniteDifferences) {
  // rope is linear, so the gradient of L = Σ rope(x)·dy is the transpose of
  // the rotation applied to dy, which is rope with inverse set, for plain
  // and bfloat16 tables alike. In double, central differences of a linear
  // L err only by rounding, 2^-53·|L|/h ≈ 1e-9: atol 1e-7.
  const RopeShape s = {2, 9, 3, 16};
  const int64_t n = s.B * s.T * s.H * s.D;
  const std::vector<double> x = ref::widen(ref::randomFloats(n, 130));
  const std::vector<double> dy = ref::widen(ref::randomFloats(n, 131));
  for (bool roundBf16 : {false, true}) {
    auto loss = [&](const std::vector<double> &input) {
      return ref::dot(ref::rope(input, s.B, s.T, s.H, s.D, kBase, roundBf16),
                      dy);
    };
    EXPECT_TRUE(ref::allClose(
        ref::rope(dy, s.B, s.T, s.H, s.D, kBase, roundBf16, /*inverse=*/true),
        ref::finiteDifferences(loss, x), 1e-7, 0.0))
        << "roundBf16 = " << roundBf16;
  }
}

} // namespace
} // namespace gptc::cpu
