//===- AttentionTest.cpp - tests of fused and unfused attention -----------===//
//
// Every test runs over T ∈ {1, 7, 33, 65, 130} (ragged against any tile),
// D ∈ {16, 32, 64, 72, 128} (72 and 128 exercise whole 64-column register
// blocks plus a ragged tail and two blocks) and (H, Hkv) ∈ {(1,1), (2,2),
// (4,1) MQA, (4,2) GQA}, with B = 2 and scale = 1/sqrt(D).
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/AttentionFixture.h"
#include "tests/unit/cpu/Reference.h"

#include <string>
#include <tuple>

namespace gptc::cpu {
namespace {

using AttentionTest = AttentionFixture;

TEST_P(AttentionTest, FusedMatchesDoubleReference) {
  // Scores are float dot products (error ~sqrt(D)·2^-24·|q||k|·scale, under
  // 1e-6), exponentials are within 4 ulp and the running sums are float
  // over ≤ 130 terms, so the softmax weights carry relative errors of a few
  // 1e-7 and the output, a weighted mean of |v| < 1, errs by a few 1e-7:
  // atol 1e-5 on o. lse (a few units) gathers the same errors: atol 1e-5.
  std::vector<float> o(B * T * H * D), lse(B * H * T);
  causalAttention(q.data(), k.data(), v.data(), o.data(), lse.data(), B, T, H,
                  Hkv, D, scale);
  std::vector<double> wantLse;
  const std::vector<double> wantO =
      ref::causalAttention(q, k, v, B, T, H, Hkv, D, scale, wantLse);
  EXPECT_TRUE(ref::allClose(o, wantO, 1e-5, 0.0));
  EXPECT_TRUE(ref::allClose(lse, wantLse, 1e-5, 0.0));
}

TEST_P(AttentionTest, FusedMatchesUnfusedKernels) {
  // attnScores -> causalMask -> softmax -> attnApply in float against the
  // fused kernel: both are within a few 1e-7 of the exact result (see
  // above), so they agree within atol 1e-5.
  std::vector<float> scores(B * H * T * T), masked(B * H * T * T),
      probabilities(B * H * T * T), unfused(B * T * H * D);
  attnScores(q.data(), k.data(), scores.data(), B, T, H, Hkv, D, scale);
  causalMask(scores.data(), masked.data(), B * H, T);
  softmax(masked.data(), probabilities.data(), B * H * T, T);
  attnApply(probabilities.data(), v.data(), unfused.data(), B, T, H, Hkv, D);

  std::vector<float> fused(B * T * H * D), lse(B * H * T);
  causalAttention(q.data(), k.data(), v.data(), fused.data(), lse.data(), B, T,
                  H, Hkv, D, scale);
  EXPECT_TRUE(ref::allClose(fused, ref::widen(unfused), 1e-5, 0.0));
}

TEST_P(AttentionTest, ScoresMatchReference) {
  // Float dot products of length D ≤ 64 over inputs ≤ 2 in magnitude, times
  // scale: rounding error ~sqrt(D)·2^-24·4·D·scale < 1e-5; atol 2e-5.
  std::vector<float> scores(B * H * T * T);
  attnScores(q.data(), k.data(), scores.data(), B, T, H, Hkv, D, scale);
  EXPECT_TRUE(ref::allClose(
      scores, ref::attnScores(q, k, B, T, H, Hkv, D, scale), 2e-5, 0.0));
}

TEST_P(AttentionTest, ApplyMatchesReference) {
  // Weights in [0, 1) (not normalised, to catch a lost row or column), v in
  // [-1, 1): sums of T ≤ 130 products, float error ~sqrt(T)·2^-24·T/4
  // < 3e-5 even in the worst case of aligned signs; atol 3e-5.
  const std::vector<float> p = ref::randomFloats(B * H * T * T, 120, 0, 1);
  std::vector<float> o(B * T * H * D);
  attnApply(p.data(), v.data(), o.data(), B, T, H, Hkv, D);
  EXPECT_TRUE(
      ref::allClose(o, ref::attnApply(p, v, B, T, H, Hkv, D), 3e-5, 0.0));
}

std::string
shapeName(const ::testing::TestParamInfo<AttentionTest::ParamType> &info) {
  const Heads heads = std::get<2>(info.param);
  return "T" + std::to_string(std::get<0>(info.param)) + "_D" +
         std::to_string(std::get<1>(info.param)) + "_H" +
         std::to_string(heads.H) + "_Hkv" + std::to_string(heads.Hkv);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionTest,
    ::testing::Combine(::testing::Values(1, 7, 33, 65, 130),
                       ::testing::Values(16, 32, 64, 72, 128),
                       ::testing::Values(Heads{1, 1}, Heads{2, 2}, Heads{4, 1},
                                         Heads{4, 2})),
    shapeName);

} // namespace
} // namespace gptc::cpu
