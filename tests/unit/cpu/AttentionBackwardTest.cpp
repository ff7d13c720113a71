//===- AttentionBackwardTest.cpp - tests of the fused attention gradient --===//
//
// The gradient rule is checked once in double (the reference backward
// against finite differences of the reference forward); the kernel is then
// checked against the reference backward over T ∈ {1, 7, 33, 65, 130}
// (ragged against the 64-row tiles), D ∈ {16, 32, 64} and (H, Hkv) ∈
// {(1,1), (4,1) MQA, (4,2) GQA}, with B = 2, scale = 1/sqrt(D) and the o and
// lse of the forward kernel.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/AttentionFixture.h"
#include "tests/unit/cpu/Reference.h"

#include <string>
#include <tuple>

namespace gptc::cpu {
namespace {

/// The gradients of one causalAttentionBackward call.
struct AttentionGrads {
  std::vector<float> dq, dk, dv;
};

/// Runs the forward kernel for o and lse, then the backward kernel on
/// outputs filled with NaN (so that an element left unwritten fails).
AttentionGrads runBackward(const std::vector<float> &q,
                           const std::vector<float> &k,
                           const std::vector<float> &v,
                           const std::vector<float> &dout, int64_t B, int64_t T,
                           int64_t H, int64_t Hkv, int64_t D, float scale) {
  std::vector<float> o(q.size()), lse(B * H * T);
  causalAttention(q.data(), k.data(), v.data(), o.data(), lse.data(), B, T, H,
                  Hkv, D, scale);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  AttentionGrads grads{std::vector<float>(q.size(), nan),
                       std::vector<float>(k.size(), nan),
                       std::vector<float>(v.size(), nan)};
  causalAttentionBackward(q.data(), k.data(), v.data(), o.data(), lse.data(),
                          dout.data(), grads.dq.data(), grads.dk.data(),
                          grads.dv.data(), B, T, H, Hkv, D, scale);
  return grads;
}

TEST(AttentionBackward, ReferenceGradientMatchesFiniteDifferences) {
  // L = Σ o·dout in double, differentiated numerically in q, k and v. L
  // sums 384 terms below 1 in magnitude, so the differences err by at most
  // about 2^-53·384/1e-6 ≈ 4e-8 (rounding) plus h² ≈ 1e-12 (truncation):
  // atol 1e-7, rtol 1e-6. A wrong gradient rule (a missing Δ term, a wrong
  // head mapping) errs by ≥ 1e-2.
  const int64_t B = 2, T = 6, H = 4, Hkv = 2, D = 8;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const std::vector<double> q =
      ref::widen(ref::randomFloats(B * T * H * D, 200, -2, 2));
  const std::vector<double> k =
      ref::widen(ref::randomFloats(B * T * Hkv * D, 201, -2, 2));
  const std::vector<double> v =
      ref::widen(ref::randomFloats(B * T * Hkv * D, 202));
  const std::vector<double> dout =
      ref::widen(ref::randomFloats(B * T * H * D, 203));
  auto loss = [&](const std::vector<double> &qIn,
                  const std::vector<double> &kIn,
                  const std::vector<double> &vIn) {
    std::vector<double> lse;
    return ref::dot(
        ref::causalAttention(qIn, kIn, vIn, B, T, H, Hkv, D, scale, lse), dout);
  };
  std::vector<double> dq, dk, dv;
  ref::causalAttentionBackward(q, k, v, dout, B, T, H, Hkv, D, scale, dq, dk,
                               dv);
  EXPECT_TRUE(ref::allClose(
      dq,
      ref::finiteDifferences(
          [&](const std::vector<double> &x) { return loss(x, k, v); }, q),
      1e-7, 1e-6));
  EXPECT_TRUE(ref::allClose(
      dk,
      ref::finiteDifferences(
          [&](const std::vector<double> &x) { return loss(q, x, v); }, k),
      1e-7, 1e-6));
  EXPECT_TRUE(ref::allClose(
      dv,
      ref::finiteDifferences(
          [&](const std::vector<double> &x) { return loss(q, k, x); }, v),
      1e-7, 1e-6));
}

/// The attention problem plus an output gradient.
class AttentionBackwardTest : public AttentionFixture {
protected:
  void SetUp() override {
    AttentionFixture::SetUp();
    dout = ref::randomFloats(B * T * H * D, seed + 3); // [B, T, H, D]
  }

  std::vector<float> dout;
};

TEST_P(AttentionBackwardTest, MatchesDoubleReference) {
  // The kernel's weights P = exp(S − lse) carry the float errors of S and of
  // the forward's lse (a few 1e-7 each, see AttentionTest), dP and Δ are
  // float dot products over D ≤ 64 terms of magnitude ≤ 1, and each
  // gradient element is a float sum over up to T·H/Hkv = 520 terms. The
  // gradients reach about 6 (dv of the first keys, which every query of
  // the group weighs) and err by about 1e-6 of that (measured ≤ 4e-6):
  // atol 1e-5, rtol 1e-5. A wrong mask, head mapping, Δ or tile edge errs
  // by ≥ 1e-3.
  const AttentionGrads got = runBackward(q, k, v, dout, B, T, H, Hkv, D, scale);
  std::vector<double> dq, dk, dv;
  ref::causalAttentionBackward(q, k, v, dout, B, T, H, Hkv, D, scale, dq, dk,
                               dv);
  EXPECT_TRUE(ref::allClose(got.dq, dq, 1e-5, 1e-5));
  EXPECT_TRUE(ref::allClose(got.dk, dk, 1e-5, 1e-5));
  EXPECT_TRUE(ref::allClose(got.dv, dv, 1e-5, 1e-5));
}

std::string shapeName(
    const ::testing::TestParamInfo<AttentionBackwardTest::ParamType> &info) {
  const Heads heads = std::get<2>(info.param);
  return "T" + std::to_string(std::get<0>(info.param)) + "_D" +
         std::to_string(std::get<1>(info.param)) + "_H" +
         std::to_string(heads.H) + "_Hkv" + std::to_string(heads.Hkv);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionBackwardTest,
    ::testing::Combine(::testing::Values(1, 7, 33, 65, 130),
                       ::testing::Values(16, 32, 64),
                       ::testing::Values(Heads{1, 1}, Heads{4, 1},
                                         Heads{4, 2})),
    shapeName);

TEST(AttentionBackward, ThreadCounts) {
  // Each key tile's dk and dv are computed by one task in a fixed order, so
  // they are identical for any thread count; dq sums per-thread buffers, so
  // it is reproducible for a fixed thread count and otherwise differs only
  // by float rounding of those sums (atol 1e-6 on values below 10).
  const int64_t B = 2, T = 200, H = 4, Hkv = 2, D = 64;
  const float scale = 0.125f;
  const std::vector<float> q = ref::randomFloats(B * T * H * D, 210, -2, 2);
  const std::vector<float> k = ref::randomFloats(B * T * Hkv * D, 211, -2, 2);
  const std::vector<float> v = ref::randomFloats(B * T * Hkv * D, 212);
  const std::vector<float> dout = ref::randomFloats(B * T * H * D, 213);
  auto run = [&](int threads) {
    ref::ThreadCount threadCount(threads);
    return runBackward(q, k, v, dout, B, T, H, Hkv, D, scale);
  };
  const AttentionGrads one = run(1), two = run(2), twoAgain = run(2);
  EXPECT_EQ(two.dq, twoAgain.dq);
  EXPECT_EQ(one.dk, two.dk);
  EXPECT_EQ(one.dv, two.dv);
  EXPECT_TRUE(ref::allClose(one.dq, ref::widen(two.dq), 1e-6, 0.0));
}

} // namespace
} // namespace gptc::cpu
