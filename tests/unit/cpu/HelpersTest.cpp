//===- HelpersTest.cpp - tests of roundToBf16, fastExp and maxOf ----------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace gptc::cpu {
namespace {

float fromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

TEST(RoundToBf16, KnownValues) {
  EXPECT_EQ(roundToBf16(1.0f), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even 1.
  EXPECT_EQ(roundToBf16(1.0f + 0x1p-8f), 1.0f);
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(roundToBf16(1.0f + 3 * 0x1p-8f), 1.0f + 0x1p-6f);
  // Just above the halfway point rounds up.
  EXPECT_EQ(roundToBf16(1.0f + 0x1p-8f + 0x1p-20f), 1.0f + 0x1p-7f);
  EXPECT_EQ(roundToBf16(-(1.0f + 0x1p-8f + 0x1p-20f)), -(1.0f + 0x1p-7f));
  EXPECT_EQ(roundToBf16(std::numeric_limits<float>::max()),
            std::numeric_limits<float>::infinity());
  EXPECT_EQ(roundToBf16(-std::numeric_limits<float>::infinity()),
            -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(roundToBf16(-0.0f)));
  EXPECT_TRUE(std::isnan(roundToBf16(std::numeric_limits<float>::quiet_NaN())));
  // A signalling NaN whose payload sits in the dropped bits stays a NaN.
  EXPECT_TRUE(std::isnan(roundToBf16(fromBits(0x7f800001u))));
}

TEST(RoundToBf16, MatchesReferenceOnRandomBitPatterns) {
  // Every float class (normal, subnormal, ±inf, near-overflow) over 200k
  // random patterns; the result must be exactly the reference's.
  std::mt19937 generator(7);
  for (int i = 0; i < 200000; ++i) {
    const float x = fromBits(static_cast<uint32_t>(generator()));
    if (std::isnan(x))
      continue;
    ASSERT_EQ(static_cast<double>(roundToBf16(x)), ref::roundBf16(x))
        << "x = " << x;
  }
}

TEST(FastExp, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(fastExp(0.0f), 1.0f);
  EXPECT_EQ(fastExp(-inf), 0.0f);
  EXPECT_EQ(fastExp(-200.0f), 0.0f);
  EXPECT_EQ(fastExp(inf), inf);
  EXPECT_EQ(fastExp(89.0f), inf);
  EXPECT_TRUE(std::isnan(fastExp(std::numeric_limits<float>::quiet_NaN())));
}

TEST(FastExp, MatchesDoubleExp) {
  // On normal results the relative error must stay within 2 ulp (2·2^-23;
  // Cephes' polynomial measures about 0.7 ulp). Results in the subnormal
  // range are rounded once, so they are within one subnormal step 2^-149.
  for (int i = 0; i <= 2000000; ++i) {
    const float x = -103.0f + (88.7f + 103.0f) * (i / 2000000.0f);
    const double exact = std::exp(static_cast<double>(x));
    const double got = fastExp(x);
    if (exact >= std::numeric_limits<float>::min())
      ASSERT_LE(std::fabs(got - exact), 2 * 0x1p-23 * exact) << "x = " << x;
    else
      ASSERT_LE(std::fabs(got - exact), 0x1p-149) << "x = " << x;
  }
}

TEST(MaxOf, IgnoresNaNAndKeepsInit) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {1.0f, nan, 7.5f, -3.0f, 7.25f};
  EXPECT_EQ(maxOf(x.data(), 5, -std::numeric_limits<float>::infinity()), 7.5f);
  EXPECT_EQ(maxOf(x.data(), 5, 9.0f), 9.0f);
  EXPECT_EQ(maxOf(x.data(), 0, -2.0f), -2.0f);
  // Longer than any vector width, maximum in the scalar tail.
  std::vector<float> ramp = ref::randomFloats(1003, 3);
  ramp.back() = 2.0f;
  EXPECT_EQ(maxOf(ramp.data(), 1003, -1.0f), 2.0f);
}

} // namespace
} // namespace gptc::cpu
