//===- LossTest.cpp - tests of crossEntropy and the fused lm_head losses --===//
//
// The lm_head losses work on chunks of 128 rows: the shapes below include
// row counts below, equal to and between multiples of that. The *Bf16
// variants are checked against the double reference on inputs rounded to
// bfloat16.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

namespace gptc::cpu {
namespace {

constexpr int32_t kIgnore = -1;

float runCrossEntropy(const std::vector<float> &logits,
                      const std::vector<int32_t> &targets, int64_t V) {
  float loss = 0.0f;
  crossEntropy(logits.data(), targets.data(), &loss,
               static_cast<int64_t>(targets.size()), V, kIgnore);
  return loss;
}

TEST(CrossEntropy, MatchesReferenceWithIgnoredRows) {
  // Sums run in double, exp is fastExp (≤ 4 ulp relative), so each row's
  // loss is off by about 4e-7·|lse|; the result is one float rounding of the
  // mean: rtol 2e-6 on losses of a few units. Logits span ±30 so the
  // max-subtraction matters.
  const int64_t shapes[][2] = {{1, 5}, {7, 65}, {33, 1000}, {130, 4099}};
  uint32_t seed = 30;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], V = shape[1];
    const std::vector<float> logits =
        ref::randomFloats(rows * V, ++seed, -30, 30);
    std::vector<int32_t> targets = ref::randomInts(rows, ++seed, 0, V);
    // Ignore every third row after the first.
    for (int64_t r = 1; r < rows; r += 3)
      targets[r] = kIgnore;
    const double want = ref::crossEntropy(logits, targets, V, kIgnore);
    EXPECT_NEAR(runCrossEntropy(logits, targets, V), want,
                2e-6 * std::fabs(want))
        << rows << "x" << V;
  }
}

TEST(CrossEntropy, IgnoredRowsDoNotContribute) {
  // Changing the logits of ignored rows must not change the loss at all.
  const int64_t rows = 9, V = 40;
  std::vector<float> logits = ref::randomFloats(rows * V, 40, -5, 5);
  std::vector<int32_t> targets = ref::randomInts(rows, 41, 0, V);
  targets[2] = targets[5] = kIgnore;
  const float before = runCrossEntropy(logits, targets, V);
  for (int64_t j = 0; j < V; ++j)
    logits[2 * V + j] = logits[5 * V + j] = 1000.0f;
  EXPECT_EQ(runCrossEntropy(logits, targets, V), before);
}

TEST(CrossEntropy, AllIgnoredIsNaN) {
  const int64_t rows = 4, V = 10;
  const std::vector<float> logits = ref::randomFloats(rows * V, 42);
  const std::vector<int32_t> targets(rows, kIgnore);
  EXPECT_TRUE(std::isnan(runCrossEntropy(logits, targets, V)));
}

TEST(CrossEntropy, UniformLogitsGiveLogV) {
  // Equal logits: every row's loss is exactly log V.
  const int64_t rows = 3, V = 1000;
  const std::vector<float> logits(rows * V, 2.5f);
  const std::vector<int32_t> targets = {0, 999, 500};
  EXPECT_NEAR(runCrossEntropy(logits, targets, V), std::log(1000.0), 1e-6);
}

/// An lm_head problem: x [rows, C] and w [V, C] uniform in [-2, 2), so that
/// logits reach a few times the cap, and targets with every third row after
/// the first ignored.
struct LmHeadProblem {
  LmHeadProblem(int64_t rows, int64_t C, int64_t V, uint32_t seed)
      : rows(rows), C(C), V(V), x(ref::randomFloats(rows * C, seed, -2, 2)),
        w(ref::randomFloats(V * C, seed + 1, -2, 2)),
        targets(ref::randomInts(rows, seed + 2, 0, V)) {
    for (int64_t r = 1; r < rows; r += 3)
      targets[r] = kIgnore;
  }

  /// lmHeadLoss, or lmHeadLossBf16 with bf16.
  float loss(float cap, bool bf16 = false) const {
    float result = 0.0f;
    (bf16 ? lmHeadLossBf16 : lmHeadLoss)(x.data(), w.data(), targets.data(),
                                         &result, rows, C, V, cap, kIgnore);
    return result;
  }

  /// lmHeadLossBackward, or lmHeadLossBackwardBf16 with bf16, on outputs
  /// filled with NaN, so that an element left unwritten fails.
  void backward(float dloss, float cap, std::vector<float> &dx,
                std::vector<float> &dw, bool bf16 = false) const {
    dx.assign(rows * C, std::numeric_limits<float>::quiet_NaN());
    dw.assign(V * C, std::numeric_limits<float>::quiet_NaN());
    (bf16 ? lmHeadLossBackwardBf16
          : lmHeadLossBackward)(x.data(), w.data(), targets.data(), &dloss,
                                dx.data(), dw.data(), rows, C, V, cap, kIgnore);
  }

  /// The number of rows whose target is not ignored.
  double counted() const {
    return static_cast<double>(
        std::count_if(targets.begin(), targets.end(),
                      [](int32_t target) { return target != kIgnore; }));
  }

  int64_t rows, C, V;
  std::vector<float> x, w;
  std::vector<int32_t> targets;
};

// rows, C, V.
const int64_t kLmHeadShapes[][3] = {
    {1, 16, 50}, {7, 64, 1000}, {128, 32, 301}, {130, 48, 257}, {300, 24, 129}};
constexpr float kCap = 15.0f;

TEST(LmHeadLoss, EqualsLinearSoftcapCrossEntropy) {
  // The same float operations as the unfused kernels, except that oneDNN
  // may block a chunk's GEMM differently from the whole one (a few ulp per
  // logit): rtol 1e-6 on the loss.
  uint32_t seed = 300;
  for (const auto &shape : kLmHeadShapes) {
    const LmHeadProblem p(shape[0], shape[1], shape[2], seed += 3);
    std::vector<float> logits(p.rows * p.V), capped(p.rows * p.V);
    linear(p.x.data(), p.w.data(), logits.data(), p.rows, p.C, p.V);
    softcap(logits.data(), capped.data(), p.rows * p.V, kCap);
    float want = 0.0f;
    crossEntropy(capped.data(), p.targets.data(), &want, p.rows, p.V, kIgnore);
    EXPECT_NEAR(p.loss(kCap), want, 1e-6 * std::fabs(want))
        << p.rows << "x" << p.C << " -> " << p.V;
  }
}

TEST(LmHeadLoss, MatchesDoubleReference) {
  // Each logit is a float dot product over C ≤ 64 terms of magnitude ≤ 4,
  // whose rounding errors add up like a random walk to about
  // sqrt(C)·2^-24·|partial sum| ≲ 1e-6 (and the soft-cap's slope is ≤ 1);
  // the soft-cap and exp are within a few ulp and the sums run in double.
  // The mean loss (a few units) errs by a few 1e-7 (measured ≤ 3e-7):
  // atol 3e-6. A wrong chunk offset or ignored row errs by ≥ 1e-2.
  uint32_t seed = 320;
  for (const auto &shape : kLmHeadShapes) {
    const LmHeadProblem p(shape[0], shape[1], shape[2], seed += 3);
    EXPECT_NEAR(p.loss(kCap),
                ref::lmHeadLoss(p.x, p.w, p.targets, p.C, p.V, kCap, kIgnore),
                3e-6)
        << p.rows << "x" << p.C << " -> " << p.V;
  }
}

TEST(LmHeadLoss, AllIgnoredIsNaN) {
  LmHeadProblem p(5, 8, 20, 340);
  std::fill(p.targets.begin(), p.targets.end(), kIgnore);
  EXPECT_TRUE(std::isnan(p.loss(kCap)));
}

TEST(LmHeadLossBackward, ReferenceGradientMatchesFiniteDifferences) {
  // L = dloss · lmHeadLoss(x, w) in double, with a small cap (3) so that
  // the soft-cap's derivative matters, and one ignored row. |L| is a few
  // units: central differences err by about 2^-53·10/1e-6 ≈ 1e-9 plus
  // h²·|L‴| ≈ 1e-11: atol 1e-7, rtol 1e-6.
  const int64_t rows = 5, C = 6, V = 11;
  const float cap = 3.0f;
  const double dloss = 0.7;
  const std::vector<double> x =
      ref::widen(ref::randomFloats(rows * C, 350, -2, 2));
  const std::vector<double> w =
      ref::widen(ref::randomFloats(V * C, 351, -2, 2));
  std::vector<int32_t> targets = ref::randomInts(rows, 352, 0, V);
  targets[3] = kIgnore;
  std::vector<double> dx, dw;
  ref::lmHeadLossBackward(x, w, targets, dloss, C, V, cap, kIgnore, dx, dw);
  auto lossOfX = [&](const std::vector<double> &input) {
    return dloss * ref::lmHeadLoss(input, w, targets, C, V, cap, kIgnore);
  };
  auto lossOfW = [&](const std::vector<double> &input) {
    return dloss * ref::lmHeadLoss(x, input, targets, C, V, cap, kIgnore);
  };
  EXPECT_TRUE(
      ref::allClose(dx, ref::finiteDifferences(lossOfX, x), 1e-7, 1e-6));
  EXPECT_TRUE(
      ref::allClose(dw, ref::finiteDifferences(lossOfW, w), 1e-7, 1e-6));
}

TEST(LmHeadLossBackward, MatchesDoubleReference) {
  // dz = dloss·(p − onehot)·(1 − tanh²)/N carries the logits' float error
  // (≲ 1e-6, see above) through the softmax and the soft-cap, whose slopes
  // are ≤ 1, so |dz| errs by ≲ 1e-6/N; dx sums V products dz·w and dw sums
  // `rows` products dz·x, with |w|, |x| ≤ 2 and the probabilities of a row
  // summing to 1, so both err by a few 1e-6/N (measured ≤ 1.6e-6/N): atol
  // 5e-6/N, rtol 1e-5. A wrong row factor, chunk offset, soft-cap factor or
  // ignored row errs by ≥ 1e-3/N.
  uint32_t seed = 360;
  for (const auto &shape : kLmHeadShapes) {
    const LmHeadProblem p(shape[0], shape[1], shape[2], seed += 3);
    const float dloss = 0.7f;
    std::vector<float> dx, dw;
    p.backward(dloss, kCap, dx, dw);
    std::vector<double> wantDx, wantDw;
    ref::lmHeadLossBackward(p.x, p.w, p.targets, dloss, p.C, p.V, kCap, kIgnore,
                            wantDx, wantDw);
    const double counted = p.counted();
    EXPECT_TRUE(ref::allClose(dx, wantDx, 5e-6 / counted, 1e-5))
        << p.rows << "x" << p.C << " -> " << p.V;
    EXPECT_TRUE(ref::allClose(dw, wantDw, 5e-6 / counted, 1e-5))
        << p.rows << "x" << p.C << " -> " << p.V;
  }
}

TEST(LmHeadLossBackward, AllIgnoredGivesZeros) {
  LmHeadProblem p(130, 8, 20, 380);
  std::fill(p.targets.begin(), p.targets.end(), kIgnore);
  std::vector<float> dx, dw;
  p.backward(1.0f, kCap, dx, dw);
  EXPECT_TRUE(ref::allClose(dx, std::vector<double>(dx.size(), 0.0), 0.0, 0.0));
  EXPECT_TRUE(ref::allClose(dw, std::vector<double>(dw.size(), 0.0), 0.0, 0.0));
}

/// values rounded to bfloat16, exactly, in double.
std::vector<double> roundedToBf16(const std::vector<float> &values) {
  std::vector<double> rounded(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    rounded[i] = ref::roundBf16(values[i]);
  return rounded;
}

TEST(LmHeadLossBf16, MatchesDoubleReferenceOnRoundedInputs) {
  // A product of two bfloat16 values is exact in float, so the logits err
  // only by the float rounding of their sums, as in
  // LmHeadLoss.MatchesDoubleReference: atol 3e-6 on the mean loss, on 1 and
  // 2 threads. Not rounding x or w moves a logit by about 2^-9·|x·w| per
  // term and the loss by ≥ 1e-4.
  uint32_t seed = 400;
  for (const auto &shape : kLmHeadShapes) {
    const LmHeadProblem p(shape[0], shape[1], shape[2], seed += 3);
    const double want = ref::lmHeadLoss(roundedToBf16(p.x), roundedToBf16(p.w),
                                        p.targets, p.C, p.V, kCap, kIgnore);
    for (int threads : {1, 2}) {
      ref::ThreadCount threadCount(threads);
      EXPECT_NEAR(p.loss(kCap, /*bf16=*/true), want, 3e-6)
          << p.rows << "x" << p.C << " -> " << p.V << ", " << threads
          << " threads";
    }
  }
}

TEST(LmHeadLossBackwardBf16, MatchesDoubleReferenceOnRoundedInputs) {
  // Against the double gradients of the loss of x and w rounded to
  // bfloat16. The kernel also rounds dz to bfloat16 for dx = dz · w and
  // dw = dzᵀ · x, a relative error of at most 2^-9 per element, which
  // dominates the float errors (≲ 2e-6/N, see
  // LmHeadLossBackward.MatchesDoubleReference). A row's |dz| sums to at most
  // 2·dloss/N (its probabilities sum to 1) and |w| ≤ 2, so dx errs by at
  // most 2^-7·dloss/N; the logits reach a few times the cap, so a row's dz
  // is dominated by its target's and its most likely token's, and the
  // measured error comes close (0.93 of it). A column of dz gathers the
  // −dloss/N-sized terms of every row whose target it is and the
  // probabilities of that token, so dw has no such bound; measured ≤
  // 0.6·2^-6·dloss/N: atol 2^-6·dloss/N. A wrong row factor, chunk offset
  // or ignored row errs by order dloss/N.
  uint32_t seed = 420;
  for (const auto &shape : kLmHeadShapes) {
    const LmHeadProblem p(shape[0], shape[1], shape[2], seed += 3);
    const float dloss = 0.7f;
    std::vector<double> wantDx, wantDw;
    ref::lmHeadLossBackward(roundedToBf16(p.x), roundedToBf16(p.w), p.targets,
                            dloss, p.C, p.V, kCap, kIgnore, wantDx, wantDw);
    const double step = dloss / p.counted();
    for (int threads : {1, 2}) {
      ref::ThreadCount threadCount(threads);
      std::vector<float> dx, dw;
      p.backward(dloss, kCap, dx, dw, /*bf16=*/true);
      EXPECT_TRUE(ref::allClose(dx, wantDx, std::ldexp(step, -7) + 2e-6, 0.0))
          << p.rows << "x" << p.C << " -> " << p.V << ", " << threads
          << " threads";
      EXPECT_TRUE(ref::allClose(dw, wantDw, std::ldexp(step, -6), 0.0))
          << p.rows << "x" << p.C << " -> " << p.V << ", " << threads
          << " threads";
    }
  }
}

TEST(LmHeadLossBackwardBf16, AllIgnoredGivesZeros) {
  LmHeadProblem p(130, 8, 20, 440);
  std::fill(p.targets.begin(), p.targets.end(), kIgnore);
  std::vector<float> dx, dw;
  p.backward(1.0f, kCap, dx, dw, /*bf16=*/true);
  EXPECT_TRUE(ref::allClose(dx, std::vector<double>(dx.size(), 0.0), 0.0, 0.0));
  EXPECT_TRUE(ref::allClose(dw, std::vector<double>(dw.size(), 0.0), 0.0, 0.0));
}

} // namespace
} // namespace gptc::cpu
