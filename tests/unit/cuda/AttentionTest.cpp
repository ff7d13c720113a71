//===- AttentionTest.cpp - tests of the CUDA training attention -----------===//
//
// gptc::cuda::causalAttention and causalAttentionBackward, run on the SIMT
// emulator, against the CPU backend's kernels on random inputs. The shapes
// cover every supported head size D ∈ {16, 32, 64, 128}, T ragged against
// the 64-query and 32/64-key tiles (1, 13, 37, 70, 130: one to three
// tiles), MHA, GQA and MQA (H / Hkv ∈ {1, 2, 3, 4}) and B ∈ {1, 2}. Both
// backwards get the CPU forward's o and lse, so each pass is checked on its
// own. Outputs start as NaN, so an element left unwritten fails.
//
// The inputs are bf16 values, which the kernels' rounding of their operands
// keeps exact: what remains is their own rounding (the weights P and dS to
// bf16) and fp32 arithmetic, so the bounds can be tight. One more test runs
// arbitrary fp32 inputs with the looser bounds that their rounding needs.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"
#include "backends/cuda/Ops.h"
#include "tests/unit/cpu/Reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace gptc::cuda {
namespace {

// Bounds on bf16 inputs. P and dS are rounded to bf16 (relative error
// ≤ 2^-9 ≈ 2e-3 each) before their products, whose fp32 sums partly cancel
// these errors: o errs by up to ~1.2e-3 of max |o| and the gradients by up to
// ~2.2e-3 of their largest magnitude on these shapes, hence bounds of about
// twice that. lse involves no bf16 rounding beyond the inputs': fp32
// accuracy. Layout and masking bugs err by far more: letting each query see
// one future key errs by more than 0.8 in o and 1.6 in lse, a fragment read
// from the wrong row by more than 0.1.
constexpr double kOutputBound = 3e-3;   // o, relative to max |o|
constexpr double kLseBound = 1e-5;      // lse, absolute (natural log)
constexpr double kGradientBound = 5e-3; // dq, dk, dv, relative

// Bounds on fp32 inputs. Rounding q and k to bf16 moves each score by about
// 2e-3 (standard deviation; scale·q·k is a sum of D terms with relative
// errors ≤ 2^-8, times 1/sqrt(D)), and lse and o with it; the largest
// deviations of a few hundred rows reach ~4 standard deviations.
constexpr double kFp32OutputBound = 1e-2;
constexpr double kFp32LseBound = 1.5e-2;
constexpr double kFp32GradientBound = 2e-2;

struct Shape {
  int64_t B, T, H, Hkv, D;
};

std::string shapeName(const ::testing::TestParamInfo<Shape> &info) {
  const Shape &s = info.param;
  return "B" + std::to_string(s.B) + "_T" + std::to_string(s.T) + "_H" +
         std::to_string(s.H) + "_Hkv" + std::to_string(s.Hkv) + "_D" +
         std::to_string(s.D);
}

/// max |actual − expected| / max |expected| (absolute when expected is all
/// zero, as dq and dk are for T = 1); NaN, failing any bound, when an
/// element of actual is not finite.
double relativeError(const std::vector<float> &actual,
                     const std::vector<float> &expected) {
  double maxError = 0.0, maxMagnitude = 0.0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!std::isfinite(actual[i]))
      return std::numeric_limits<double>::quiet_NaN();
    maxError = std::max(maxError, std::fabs(double(actual[i]) - expected[i]));
    maxMagnitude = std::max(maxMagnitude, std::fabs(double(expected[i])));
  }
  return maxMagnitude > 0.0 ? maxError / maxMagnitude : maxError;
}

/// max |actual − expected|, NaN when an element of actual is not finite.
double absoluteError(const std::vector<float> &actual,
                     const std::vector<float> &expected) {
  double maxError = 0.0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!std::isfinite(actual[i]))
      return std::numeric_limits<double>::quiet_NaN();
    maxError = std::max(maxError, std::fabs(double(actual[i]) - expected[i]));
  }
  return maxError;
}

std::vector<float> nans(size_t n) {
  return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN());
}

/// One attention problem with scale = 1/sqrt(D) and random inputs seeded by
/// the shape, optionally rounded to bf16, with the CPU forward's results.
struct Problem {
  Problem(const Shape &shape, bool bf16Inputs) : s(shape) {
    scale = 1.0f / std::sqrt(static_cast<float>(s.D));
    const uint32_t seed =
        uint32_t(s.B * 100000 + s.T * 1000 + s.D * 10 + s.H + s.Hkv);
    // q and k in [-2, 2) make scores of a few units: peaked but not one-hot
    // softmax rows.
    const int64_t queries = s.B * s.T * s.H * s.D;
    const int64_t keys = s.B * s.T * s.Hkv * s.D;
    q = inputs(queries, seed, 2.0f, bf16Inputs);
    k = inputs(keys, seed + 1, 2.0f, bf16Inputs);
    v = inputs(keys, seed + 2, 1.0f, bf16Inputs);
    dout = inputs(queries, seed + 3, 1.0f, bf16Inputs);
    o.resize(queries);
    lse.resize(s.B * s.H * s.T);
    cpu::causalAttention(q.data(), k.data(), v.data(), o.data(), lse.data(),
                         s.B, s.T, s.H, s.Hkv, s.D, scale);
  }

  /// n random floats in [-bound, bound), rounded to bf16 if `round`.
  static std::vector<float> inputs(int64_t n, uint32_t seed, float bound,
                                   bool round) {
    std::vector<float> values = cpu::ref::randomFloats(n, seed, -bound, bound);
    if (round)
      for (float &value : values)
        value = cpu::roundToBf16(value);
    return values;
  }

  /// Max errors of the CUDA forward: o relative, lse absolute.
  std::pair<double, double> forwardErrors() const {
    std::vector<float> cudaO = nans(o.size()), cudaLse = nans(lse.size());
    causalAttention(q.data(), k.data(), v.data(), cudaO.data(), cudaLse.data(),
                    s.B, s.T, s.H, s.Hkv, s.D, scale);
    const double oError = relativeError(cudaO, o);
    const double lseError = absoluteError(cudaLse, lse);
    std::printf("forward: o %.2e (relative), lse %.2e (absolute)\n", oError,
                lseError);
    return {oError, lseError};
  }

  /// Max relative errors of the CUDA backward's dq, dk and dv.
  std::vector<double> backwardErrors() const {
    std::vector<float> dq(q.size()), dk(k.size()), dv(v.size());
    cpu::causalAttentionBackward(q.data(), k.data(), v.data(), o.data(),
                                 lse.data(), dout.data(), dq.data(), dk.data(),
                                 dv.data(), s.B, s.T, s.H, s.Hkv, s.D, scale);
    std::vector<float> cudaDq = nans(dq.size()), cudaDk = nans(dk.size()),
                       cudaDv = nans(dv.size());
    causalAttentionBackward(q.data(), k.data(), v.data(), o.data(), lse.data(),
                            dout.data(), cudaDq.data(), cudaDk.data(),
                            cudaDv.data(), s.B, s.T, s.H, s.Hkv, s.D, scale);
    const std::vector<double> errors = {relativeError(cudaDq, dq),
                                        relativeError(cudaDk, dk),
                                        relativeError(cudaDv, dv)};
    std::printf("backward: dq %.2e, dk %.2e, dv %.2e (relative)\n", errors[0],
                errors[1], errors[2]);
    return errors;
  }

  Shape s;
  float scale = 0.0f;
  std::vector<float> q, k, v, dout; // [B, T, H or Hkv, D]
  std::vector<float> o, lse;        // [B, T, H, D], [B, H, T]
};

class CudaAttention : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaAttention, ForwardMatchesCpu) {
  const auto [oError, lseError] =
      Problem(GetParam(), /*bf16Inputs=*/true).forwardErrors();
  EXPECT_LE(oError, kOutputBound);
  EXPECT_LE(lseError, kLseBound);
}

TEST_P(CudaAttention, BackwardMatchesCpu) {
  for (double error : Problem(GetParam(), /*bf16Inputs=*/true).backwardErrors())
    EXPECT_LE(error, kGradientBound);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaAttention,
    ::testing::Values(Shape{1, 1, 1, 1, 16}, Shape{2, 13, 2, 2, 16},
                      Shape{1, 70, 4, 1, 16}, Shape{2, 37, 4, 2, 32},
                      Shape{1, 130, 3, 1, 32}, Shape{1, 13, 2, 1, 64},
                      Shape{2, 70, 2, 2, 64}, Shape{1, 130, 4, 2, 64},
                      Shape{1, 37, 2, 2, 128}, Shape{2, 70, 4, 2, 128},
                      Shape{1, 130, 3, 1, 128}),
    shapeName);

TEST(CudaAttentionFp32Inputs, MatchesCpuWithinBf16Rounding) {
  const Problem problem(Shape{2, 70, 4, 2, 64}, /*bf16Inputs=*/false);
  const auto [oError, lseError] = problem.forwardErrors();
  EXPECT_LE(oError, kFp32OutputBound);
  EXPECT_LE(lseError, kFp32LseBound);
  for (double error : problem.backwardErrors())
    EXPECT_LE(error, kFp32GradientBound);
}

TEST(CudaAttentionDeathTest, RejectsUnsupportedHeadSize) {
  const int64_t B = 1, T = 4, H = 1, D = 48;
  std::vector<float> q(B * T * H * D), o(q.size()), lse(B * H * T);
  EXPECT_EXIT(causalAttention(q.data(), q.data(), q.data(), o.data(),
                              lse.data(), B, T, H, H, D, 1.0f),
              ::testing::ExitedWithCode(1),
              "causalAttention on CUDA supports head dims 16 32 64 128, got "
              "D=48");
}

} // namespace
} // namespace gptc::cuda
