//===- AttentionFixture.h - the problems the attention tests share -*- C++
//-*-===//
//
// One attention problem per test parameter (T, D, (H, Hkv)): B = 2,
// scale = 1/sqrt(D) and random q, k, v seeded by the shape.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_TESTS_UNIT_CPU_ATTENTIONFIXTURE_H
#define GPTC_TESTS_UNIT_CPU_ATTENTIONFIXTURE_H

#include "tests/unit/cpu/Reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <vector>

namespace gptc::cpu {

struct Heads {
  int64_t H, Hkv;
};

class AttentionFixture
    : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, Heads>> {
protected:
  void SetUp() override {
    const auto &[sequence, headSize, heads] = GetParam();
    T = sequence;
    D = headSize;
    H = heads.H;
    Hkv = heads.Hkv;
    scale = 1.0f / std::sqrt(static_cast<float>(D));
    seed = static_cast<uint32_t>(T * 1000 + D * 10 + H + Hkv);
    // Inputs in [-2, 2) make scores of a few units: peaked but not one-hot
    // softmax rows.
    q = ref::randomFloats(B * T * H * D, seed, -2, 2);       // [B, T, H, D]
    k = ref::randomFloats(B * T * Hkv * D, seed + 1, -2, 2); // [B, T, Hkv, D]
    v = ref::randomFloats(B * T * Hkv * D, seed + 2);        // [B, T, Hkv, D]
  }

  const int64_t B = 2;
  int64_t T = 0, D = 0, H = 0, Hkv = 0;
  uint32_t seed = 0;
  float scale = 0.0f;
  std::vector<float> q, k, v;
};

} // namespace gptc::cpu

#endif // GPTC_TESTS_UNIT_CPU_ATTENTIONFIXTURE_H
