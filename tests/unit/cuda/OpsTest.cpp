//===- OpsTest.cpp - the CUDA ops against the CPU kernels -----------------===//
//
// Every non-attention, non-decode gptc::cuda op runs on the SIMT emulator
// and is compared with its gptc::cpu twin on seeded random inputs. Sizes
// are ragged (not multiples of 4, of a warp or of the loss chunk), and each
// op that has a float4 path also runs on buffers one float past a 16-byte
// boundary, which takes its scalar path. Outputs start as NaN, so an
// element an op leaves unwritten fails.
//
// Tolerances are relative to the largest magnitude of the reference: exact
// where both sides do the same float operations in the same order; ~1e-6
// where only the math library (tanhf, expf) or double-precision sums differ;
// ~1e-5 where float sums run in a different order (GEMMs, reductions).
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Ops.h"
#include "backends/cpu/Kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace gptc::cuda {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int32_t kIgnore = -1;

std::vector<float> randomFloats(int64_t n, uint32_t seed, float lo = -1.0f,
                                float hi = 1.0f) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(lo, hi);
  std::vector<float> values(n);
  for (float &value : values)
    value = distribution(generator);
  return values;
}

std::vector<int32_t> randomInts(int64_t n, uint32_t seed, int32_t lo,
                                int32_t hi) {
  std::mt19937 generator(seed);
  std::uniform_int_distribution<int32_t> distribution(lo, hi - 1);
  std::vector<int32_t> values(n);
  for (int32_t &value : values)
    value = distribution(generator);
  return values;
}

/// Targets in [0, V) with every third row after the first ignored.
std::vector<int32_t> targetsWithIgnored(int64_t rows, int64_t V,
                                        uint32_t seed) {
  std::vector<int32_t> targets = randomInts(rows, seed, 0, int32_t(V));
  for (int64_t r = 1; r < rows; r += 3)
    targets[r] = kIgnore;
  return targets;
}

/// Floats standing for device memory (the emulator's device memory is host
/// memory), 16-byte aligned or, when `misaligned`, one float past that, so
/// that an op takes its float4 or its scalar path.
class Buffer {
public:
  Buffer(const std::vector<float> &values, bool misaligned)
      : offset(misaligned ? 1 : 0), size(values.size()),
        storage(values.size() + 1, kNaN) {
    std::copy(values.begin(), values.end(), storage.begin() + offset);
  }
  /// n NaNs: an output.
  Buffer(int64_t n, bool misaligned)
      : Buffer(std::vector<float>(n, kNaN), misaligned) {}

  float *data() { return storage.data() + offset; }
  std::vector<float> values() const {
    return std::vector<float>(storage.begin() + offset,
                              storage.begin() + offset + size);
  }

private:
  size_t offset, size;
  std::vector<float> storage;
};

/// The largest finite |value|.
double largestMagnitude(const std::vector<float> &values) {
  double largest = 0.0;
  for (float value : values)
    if (std::isfinite(value))
      largest = std::max(largest, std::fabs(double(value)));
  return largest;
}

/// Success when got and want have the same shape and NaNs and infinities
/// in the same places, and every other element satisfies |got − want| <=
/// tolerance · scale, by default scale = max|want| (with tolerance 0:
/// got == want).
::testing::AssertionResult closeTo(const std::vector<float> &got,
                                   const std::vector<float> &want,
                                   double tolerance, double scale = -1.0) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << "size " << got.size() << " != " << want.size();
  const double allowed =
      tolerance * (scale < 0.0 ? largestMagnitude(want) : scale);
  size_t mismatches = 0, worst = 0;
  double worstError = -1.0;
  for (size_t i = 0; i < got.size(); ++i) {
    double error;
    if (!std::isfinite(want[i]))
      error = (std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i])
                  ? 0.0
                  : kInf;
    else
      error =
          std::isfinite(got[i]) ? std::fabs(double(got[i]) - want[i]) : kInf;
    if (error > allowed)
      ++mismatches;
    if (error > worstError) {
      worstError = error;
      worst = i;
    }
  }
  if (mismatches == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << mismatches << " of " << got.size() << " elements differ by more "
         << "than " << allowed << "; worst at " << worst << ": got "
         << got[worst] << ", want " << want[worst];
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

const int64_t kElementwiseSizes[] = {1, 3, 4, 7, 1000, 4099, 70001};

/// Runs the unary op `cudaOp` and its CPU twin `cpuOp` on inputs uniform
/// in [lo, hi), for every size, aligned and not.
template <typename CudaOp, typename CpuOp>
void checkUnary(CudaOp cudaOp, CpuOp cpuOp, float lo, float hi,
                double tolerance) {
  uint32_t seed = 10;
  for (int64_t n : kElementwiseSizes) {
    for (bool misaligned : {false, true}) {
      const std::vector<float> x = randomFloats(n, ++seed, lo, hi);
      Buffer xBuffer(x, misaligned), y(n, misaligned);
      std::vector<float> want(n);
      cudaOp(xBuffer.data(), y.data(), n);
      cpuOp(x.data(), want.data(), n);
      EXPECT_TRUE(closeTo(y.values(), want, tolerance))
          << "n " << n << (misaligned ? " misaligned" : "");
    }
  }
}

/// checkUnary for ops of two inputs.
template <typename CudaOp, typename CpuOp>
void checkBinary(CudaOp cudaOp, CpuOp cpuOp) {
  uint32_t seed = 20;
  for (int64_t n : kElementwiseSizes) {
    for (bool misaligned : {false, true}) {
      const std::vector<float> a = randomFloats(n, ++seed, -3, 3);
      const std::vector<float> b = randomFloats(n, ++seed, -3, 3);
      Buffer aBuffer(a, misaligned), bBuffer(b, false), y(n, misaligned);
      std::vector<float> want(n);
      cudaOp(aBuffer.data(), bBuffer.data(), y.data(), n);
      cpuOp(a.data(), b.data(), want.data(), n);
      EXPECT_TRUE(closeTo(y.values(), want, 0.0))
          << "n " << n << (misaligned ? " misaligned" : "");
    }
  }
}

TEST(CudaElementwise, Fill) {
  for (int64_t n : kElementwiseSizes) {
    for (bool misaligned : {false, true}) {
      Buffer y(n, misaligned);
      fill(y.data(), n, -2.5f);
      EXPECT_TRUE(closeTo(y.values(), std::vector<float>(n, -2.5f), 0.0))
          << "n " << n;
    }
  }
}

TEST(CudaElementwise, Scale) {
  checkUnary(
      [](const float *x, float *y, int64_t n) { scale(x, y, n, -1.7f); },
      [](const float *x, float *y, int64_t n) { cpu::scale(x, y, n, -1.7f); },
      -5, 5, 0.0);
}

TEST(CudaElementwise, ReluSquare) {
  checkUnary(
      [](const float *x, float *y, int64_t n) { reluSquare(x, y, n); },
      [](const float *x, float *y, int64_t n) { cpu::reluSquare(x, y, n); }, -3,
      3, 0.0);
}

TEST(CudaElementwise, Softcap) {
  // tanhf against the CPU's fastTanh: a few ulp of the cap.
  checkUnary(
      [](const float *x, float *y, int64_t n) { softcap(x, y, n, 15.0f); },
      [](const float *x, float *y, int64_t n) { cpu::softcap(x, y, n, 15.0f); },
      -60, 60, 1e-6);
}

TEST(CudaElementwise, Add) { checkBinary(add, cpu::add); }

TEST(CudaElementwise, ReluSquareBackward) {
  checkBinary(reluSquareBackward, cpu::reluSquareBackward);
}

//===----------------------------------------------------------------------===//
// rmsNorm
//===----------------------------------------------------------------------===//

// rows, cols: ragged rows, one element, rows of 4k floats, not a multiple of
// 4 floats, and more rows than the 8 warps of a block.
const int64_t kNormShapes[][2] = {
    {1, 1}, {3, 5}, {17, 128}, {9, 1283}, {40, 1280}};
constexpr float kEps = 1e-6f;

TEST(CudaRmsNorm, MatchesCpu) {
  // Both sum squares in double and scale by one float: ~1 ulp apart.
  uint32_t seed = 100;
  for (const auto &shape : kNormShapes) {
    const int64_t rows = shape[0], cols = shape[1];
    for (bool misaligned : {false, true}) {
      const std::vector<float> x = randomFloats(rows * cols, ++seed, -2, 2);
      Buffer xBuffer(x, misaligned), y(rows * cols, misaligned);
      std::vector<float> want(rows * cols);
      rmsNorm(xBuffer.data(), y.data(), rows, cols, kEps);
      cpu::rmsNorm(x.data(), want.data(), rows, cols, kEps);
      EXPECT_TRUE(closeTo(y.values(), want, 1e-6))
          << rows << "x" << cols << (misaligned ? " misaligned" : "");
    }
  }
}

TEST(CudaRmsNormBackward, MatchesCpu) {
  // dx = r·dy − r³·mean(dy∘x)·x: both terms are of order r·|dy| and dx can
  // cancel far below them (with one column, entirely), so the tolerance is
  // relative to r·max|dy| (r ≤ 1/sqrt(eps) at most; here r is ~1).
  uint32_t seed = 120;
  for (const auto &shape : kNormShapes) {
    const int64_t rows = shape[0], cols = shape[1];
    for (bool misaligned : {false, true}) {
      const std::vector<float> x = randomFloats(rows * cols, ++seed, -2, 2);
      const std::vector<float> dy = randomFloats(rows * cols, ++seed);
      Buffer xBuffer(x, misaligned), dyBuffer(dy, misaligned),
          dx(rows * cols, misaligned);
      std::vector<float> want(rows * cols);
      rmsNormBackward(xBuffer.data(), dyBuffer.data(), dx.data(), rows, cols,
                      kEps);
      cpu::rmsNormBackward(x.data(), dy.data(), want.data(), rows, cols, kEps);
      double largestR = 0.0;
      for (int64_t r = 0; r < rows; ++r) {
        double sumSquares = 0.0;
        for (int64_t c = 0; c < cols; ++c)
          sumSquares += double(x[r * cols + c]) * x[r * cols + c];
        largestR =
            std::max(largestR, 1.0 / std::sqrt(sumSquares / cols + kEps));
      }
      EXPECT_TRUE(
          closeTo(dx.values(), want, 1e-6, largestR * largestMagnitude(dy)))
          << rows << "x" << cols << (misaligned ? " misaligned" : "");
    }
  }
}

//===----------------------------------------------------------------------===//
// rope
//===----------------------------------------------------------------------===//

TEST(CudaRope, MatchesCpuForEveryFlag) {
  // B, T, H, D: an odd number of pairs, a single pair, nanochat's head
  // size, and more pairs than a block has threads.
  const int64_t shapes[][4] = {{2, 5, 3, 8},
                               {1, 17, 2, 6},
                               {1, 3, 1, 2},
                               {2, 33, 4, 128},
                               {1, 2, 2, 600}};
  uint32_t seed = 200;
  for (const auto &shape : shapes) {
    const int64_t B = shape[0], T = shape[1], H = shape[2], D = shape[3];
    const std::vector<float> x = randomFloats(B * T * H * D, ++seed, -2, 2);
    for (int32_t roundBf16 : {0, 1}) {
      for (int32_t inverse : {0, 1}) {
        Buffer xBuffer(x, false), y(B * T * H * D, false);
        std::vector<float> want(B * T * H * D);
        rope(xBuffer.data(), y.data(), B, T, H, D, 10000.0f, roundBf16,
             inverse);
        cpu::rope(x.data(), want.data(), B, T, H, D, 10000.0f, roundBf16,
                  inverse);
        // The same float32 tables; the rotation may contract to FMAs.
        EXPECT_TRUE(closeTo(y.values(), want, 1e-6))
            << B << "x" << T << "x" << H << "x" << D << " roundBf16 "
            << roundBf16 << " inverse " << inverse;
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// embedding
//===----------------------------------------------------------------------===//

TEST(CudaEmbedding, CopiesRows) {
  // n, V, C.
  const int64_t shapes[][3] = {{1, 1, 1}, {333, 50, 70}, {100, 7, 128}};
  uint32_t seed = 300;
  for (const auto &shape : shapes) {
    const int64_t n = shape[0], V = shape[1], C = shape[2];
    for (bool misaligned : {false, true}) {
      const std::vector<float> table = randomFloats(V * C, ++seed);
      const std::vector<int32_t> ids = randomInts(n, ++seed, 0, int32_t(V));
      Buffer tableBuffer(table, misaligned), out(n * C, misaligned);
      std::vector<float> want(n * C);
      embedding(tableBuffer.data(), ids.data(), out.data(), n, V, C);
      cpu::embedding(table.data(), ids.data(), want.data(), n, V, C);
      EXPECT_TRUE(closeTo(out.values(), want, 0.0))
          << n << " ids of " << V << "x" << C;
    }
  }
}

TEST(CudaEmbeddingBackward, SumsInPositionOrderLikeCpu) {
  // n, V, C: many repeats of few ids; more ids than warps (several ids per
  // range); channels that end inside a warp's second block; no positions.
  const int64_t shapes[][3] = {
      {300, 37, 70}, {40, 3000, 64}, {64, 3, 132}, {0, 4, 8}, {45, 1, 5}};
  uint32_t seed = 320;
  for (const auto &shape : shapes) {
    const int64_t n = shape[0], V = shape[1], C = shape[2];
    for (bool misaligned : {false, true}) {
      const std::vector<float> dy = randomFloats(n * C, ++seed);
      const std::vector<int32_t> ids = randomInts(n, ++seed, 0, int32_t(V));
      Buffer dyBuffer(dy, misaligned), dtable(V * C, misaligned);
      std::vector<float> want(V * C);
      embeddingBackward(ids.data(), dyBuffer.data(), dtable.data(), n, V, C);
      cpu::embeddingBackward(ids.data(), dy.data(), want.data(), n, V, C);
      // Each element adds its positions in order from 0: bitwise equal.
      EXPECT_TRUE(closeTo(dtable.values(), want, 0.0))
          << n << " ids of " << V << "x" << C
          << (misaligned ? " misaligned" : "");
    }
  }
}

//===----------------------------------------------------------------------===//
// linear
//===----------------------------------------------------------------------===//

// rows, in, out: a decode row, ragged sizes, and several warps' worth.
const int64_t kLinearShapes[][3] = {
    {1, 7, 3}, {5, 33, 17}, {130, 64, 96}, {3, 1, 2}};

/// Runs linear (or linearBf16) both ways.
void checkLinear(bool bf16, double tolerance) {
  uint32_t seed = bf16 ? 420 : 400;
  for (const auto &shape : kLinearShapes) {
    const int64_t rows = shape[0], in = shape[1], out = shape[2];
    for (bool misaligned : {false, true}) {
      const std::vector<float> x = randomFloats(rows * in, ++seed);
      const std::vector<float> w = randomFloats(out * in, ++seed);
      Buffer xBuffer(x, misaligned), wBuffer(w, false),
          y(rows * out, misaligned);
      std::vector<float> want(rows * out);
      if (bf16) {
        linearBf16(xBuffer.data(), wBuffer.data(), y.data(), rows, in, out);
        cpu::linearBf16(x.data(), w.data(), want.data(), rows, in, out);
      } else {
        linear(xBuffer.data(), wBuffer.data(), y.data(), rows, in, out);
        cpu::linear(x.data(), w.data(), want.data(), rows, in, out);
      }
      EXPECT_TRUE(closeTo(y.values(), want, tolerance))
          << rows << "x" << in << " -> " << out;
    }
  }
}

/// Runs linearBackward (or linearBackwardBf16) both ways.
void checkLinearBackward(bool bf16, double tolerance) {
  uint32_t seed = bf16 ? 460 : 440;
  for (const auto &shape : kLinearShapes) {
    const int64_t rows = shape[0], in = shape[1], out = shape[2];
    for (bool misaligned : {false, true}) {
      const std::vector<float> dy = randomFloats(rows * out, ++seed);
      const std::vector<float> x = randomFloats(rows * in, ++seed);
      const std::vector<float> w = randomFloats(out * in, ++seed);
      Buffer dyBuffer(dy, misaligned), xBuffer(x, misaligned),
          wBuffer(w, misaligned), dx(rows * in, false), dw(out * in, false);
      std::vector<float> wantDx(rows * in), wantDw(out * in);
      if (bf16) {
        linearBackwardBf16(dyBuffer.data(), xBuffer.data(), wBuffer.data(),
                           dx.data(), dw.data(), rows, in, out);
        cpu::linearBackwardBf16(dy.data(), x.data(), w.data(), wantDx.data(),
                                wantDw.data(), rows, in, out);
      } else {
        linearBackward(dyBuffer.data(), xBuffer.data(), wBuffer.data(),
                       dx.data(), dw.data(), rows, in, out);
        cpu::linearBackward(dy.data(), x.data(), w.data(), wantDx.data(),
                            wantDw.data(), rows, in, out);
      }
      EXPECT_TRUE(closeTo(dx.values(), wantDx, tolerance))
          << "dx " << rows << "x" << in << " -> " << out;
      EXPECT_TRUE(closeTo(dw.values(), wantDw, tolerance))
          << "dw " << rows << "x" << in << " -> " << out;
    }
  }
}

// Float sums over at most 130 terms in another order: ~1e-6 of the largest
// output. bf16: the same rounded inputs and exact products.
TEST(CudaLinear, MatchesCpu) { checkLinear(false, 1e-5); }
TEST(CudaLinearBf16, MatchesCpu) { checkLinear(true, 1e-4); }
TEST(CudaLinearBackward, MatchesCpu) { checkLinearBackward(false, 1e-5); }
TEST(CudaLinearBackwardBf16, MatchesCpu) { checkLinearBackward(true, 1e-4); }

TEST(CudaLinearBf16, RoundsInputsToBf16) {
  // 1 + 2^-9 rounds to 1 in bfloat16 (ties to even), so y = in exactly.
  const int64_t in = 8;
  const std::vector<float> ones(in, 1.0f + 1.0f / 512.0f);
  Buffer x(ones, false), w(ones, false), y(1, false);
  linearBf16(x.data(), w.data(), y.data(), 1, in, 1);
  EXPECT_EQ(y.values()[0], float(in));
}

//===----------------------------------------------------------------------===//
// crossEntropy and the fused lm_head losses
//===----------------------------------------------------------------------===//

TEST(CudaCrossEntropy, MatchesCpuWithIgnoredRows) {
  // rows, V: logits span ±30, so the max-subtraction matters; V % 4 == 0
  // takes the float4 path.
  const int64_t shapes[][2] = {
      {1, 5}, {7, 65}, {33, 1000}, {130, 4099}, {20, 4096}};
  uint32_t seed = 500;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], V = shape[1];
    for (bool misaligned : {false, true}) {
      const std::vector<float> logits = randomFloats(rows * V, ++seed, -30, 30);
      const std::vector<int32_t> targets = targetsWithIgnored(rows, V, ++seed);
      Buffer logitsBuffer(logits, misaligned), loss(1, false);
      float want = 0.0f;
      crossEntropy(logitsBuffer.data(), targets.data(), loss.data(), rows, V,
                   kIgnore);
      cpu::crossEntropy(logits.data(), targets.data(), &want, rows, V, kIgnore);
      // expf against fastExp, sums in double: ~1e-7 relative.
      EXPECT_NEAR(loss.values()[0], want, 2e-6 * std::fabs(want))
          << rows << "x" << V << (misaligned ? " misaligned" : "");
    }
  }
}

TEST(CudaCrossEntropy, AllIgnoredOrNoRowsIsNaN) {
  const int64_t rows = 4, V = 10;
  Buffer logits(randomFloats(rows * V, 520), false), loss(1, false);
  const std::vector<int32_t> ignored(rows, kIgnore);
  crossEntropy(logits.data(), ignored.data(), loss.data(), rows, V, kIgnore);
  EXPECT_TRUE(std::isnan(loss.values()[0]));
  Buffer empty(1, false);
  empty.data()[0] = 0.0f;
  crossEntropy(logits.data(), ignored.data(), empty.data(), 0, V, kIgnore);
  EXPECT_TRUE(std::isnan(empty.values()[0]));
}

/// An lm_head problem: x [rows, C] and w [V, C] uniform in [-2, 2), so that
/// logits reach a few times the cap, and targets with ignored rows.
struct LmHeadProblem {
  LmHeadProblem(int64_t rows, int64_t C, int64_t V, uint32_t seed)
      : rows(rows), C(C), V(V), x(randomFloats(rows * C, seed, -2, 2)),
        w(randomFloats(V * C, seed + 1, -2, 2)),
        targets(targetsWithIgnored(rows, V, seed + 2)) {}

  int64_t rows, C, V;
  std::vector<float> x, w;
  std::vector<int32_t> targets;
};

// rows, C, V: one row; V % 4 == 0; 1100 rows = chunks of 512, 512 and 76;
// 600 rows with an odd V (scalar rows).
const int64_t kLmHeadShapes[][3] = {
    {1, 16, 50}, {7, 64, 1000}, {1100, 24, 300}, {600, 16, 301}};
constexpr float kCap = 15.0f;

/// Runs lmHeadLoss (or lmHeadLossBf16) both ways.
void checkLmHeadLoss(bool bf16) {
  uint32_t seed = bf16 ? 620 : 600;
  for (const auto &shape : kLmHeadShapes) {
    const LmHeadProblem p(shape[0], shape[1], shape[2], seed += 3);
    Buffer x(p.x, false), w(p.w, false), loss(1, false);
    float want = 0.0f;
    (bf16 ? lmHeadLossBf16 : lmHeadLoss)(x.data(), w.data(), p.targets.data(),
                                         loss.data(), p.rows, p.C, p.V, kCap,
                                         kIgnore);
    (bf16 ? cpu::lmHeadLossBf16
          : cpu::lmHeadLoss)(p.x.data(), p.w.data(), p.targets.data(), &want,
                             p.rows, p.C, p.V, kCap, kIgnore);
    EXPECT_NEAR(loss.values()[0], want, 1e-5 * std::fabs(want))
        << p.rows << "x" << p.C << " -> " << p.V;
  }
}

// The logits' float sums run in another order (a few ulp), tanhf and expf
// against fastTanh and fastExp: ~1e-7 relative on the loss. bf16: the same
// rounded inputs and exact products.
TEST(CudaLmHeadLoss, MatchesCpu) { checkLmHeadLoss(false); }
TEST(CudaLmHeadLossBf16, MatchesCpu) { checkLmHeadLoss(true); }

TEST(CudaLmHeadLossBf16, RoundsInputsToBf16) {
  // 1 + 2^-9 rounds to 1 in bfloat16 (ties to even), so with C = 8 every
  // logit is 8, and with V = 2 equal logits the loss is exactly log 2.
  const int64_t C = 8, V = 2;
  const std::vector<float> ones(V * C, 1.0f + 1.0f / 512.0f);
  const std::vector<int32_t> targets = {1};
  Buffer x(std::vector<float>(ones.begin(), ones.begin() + C), false),
      w(ones, false), loss(1, false);
  lmHeadLossBf16(x.data(), w.data(), targets.data(), loss.data(), 1, C, V, kCap,
                 kIgnore);
  EXPECT_NEAR(loss.values()[0], std::log(2.0), 1e-7);
}

TEST(CudaLmHeadLoss, AllIgnoredIsNaN) {
  LmHeadProblem p(5, 8, 20, 640);
  std::fill(p.targets.begin(), p.targets.end(), kIgnore);
  Buffer x(p.x, false), w(p.w, false), loss(1, false);
  lmHeadLoss(x.data(), w.data(), p.targets.data(), loss.data(), p.rows, p.C,
             p.V, kCap, kIgnore);
  EXPECT_TRUE(std::isnan(loss.values()[0]));
}

/// Runs lmHeadLossBackward (or lmHeadLossBackwardBf16) both ways.
void checkLmHeadLossBackward(bool bf16, double tolerance) {
  uint32_t seed = bf16 ? 700 : 660;
  for (const auto &shape : kLmHeadShapes) {
    const LmHeadProblem p(shape[0], shape[1], shape[2], seed += 3);
    Buffer x(p.x, false), w(p.w, false), dloss(std::vector<float>{0.7f}, false),
        dx(p.rows * p.C, false), dw(p.V * p.C, false);
    std::vector<float> wantDx(p.rows * p.C), wantDw(p.V * p.C);
    (bf16 ? lmHeadLossBackwardBf16 : lmHeadLossBackward)(
        x.data(), w.data(), p.targets.data(), dloss.data(), dx.data(),
        dw.data(), p.rows, p.C, p.V, kCap, kIgnore);
    const float hostDloss = 0.7f;
    (bf16 ? cpu::lmHeadLossBackwardBf16 : cpu::lmHeadLossBackward)(
        p.x.data(), p.w.data(), p.targets.data(), &hostDloss, wantDx.data(),
        wantDw.data(), p.rows, p.C, p.V, kCap, kIgnore);
    EXPECT_TRUE(closeTo(dx.values(), wantDx, tolerance))
        << "dx " << p.rows << "x" << p.C << " -> " << p.V;
    EXPECT_TRUE(closeTo(dw.values(), wantDw, tolerance))
        << "dw " << p.rows << "x" << p.C << " -> " << p.V;
  }
}

// dz carries the logits' few-ulp differences; dx and dw sum V and `rows`
// products in another order (dw over chunks of 512 rows, the CPU's of 128):
// ~1e-6 of the largest gradient. bf16: the same rounded x and w, but the
// two sides' dz, a few ulp apart, now and then round to bfloat16 values one
// bfloat16 ulp (2^-8 relative) apart, each moving a few sums by 2^-8 of one
// of their terms (measured ≤ 5e-5 of the largest gradient).
TEST(CudaLmHeadLossBackward, MatchesCpu) {
  checkLmHeadLossBackward(false, 1e-5);
}
TEST(CudaLmHeadLossBackwardBf16, MatchesCpu) {
  checkLmHeadLossBackward(true, 1e-4);
}

TEST(CudaLmHeadLossBackward, AllIgnoredGivesZeroGradients) {
  LmHeadProblem p(6, 8, 20, 680);
  std::fill(p.targets.begin(), p.targets.end(), kIgnore);
  Buffer x(p.x, false), w(p.w, false), dloss(std::vector<float>{1.0f}, false),
      dx(p.rows * p.C, false), dw(p.V * p.C, false);
  lmHeadLossBackward(x.data(), w.data(), p.targets.data(), dloss.data(),
                     dx.data(), dw.data(), p.rows, p.C, p.V, kCap, kIgnore);
  EXPECT_TRUE(closeTo(dx.values(), std::vector<float>(p.rows * p.C, 0), 0));
  EXPECT_TRUE(closeTo(dw.values(), std::vector<float>(p.V * p.C, 0), 0));
}

//===----------------------------------------------------------------------===//
// Unfused attention
//===----------------------------------------------------------------------===//

TEST(CudaCausalMask, MatchesCpu) {
  const int64_t rows = 3;
  uint32_t seed = 700;
  for (int64_t T : {1, 7, 16}) {
    for (bool misaligned : {false, true}) {
      const std::vector<float> x = randomFloats(rows * T * T, ++seed);
      Buffer xBuffer(x, misaligned), y(rows * T * T, misaligned);
      std::vector<float> want(rows * T * T);
      causalMask(xBuffer.data(), y.data(), rows, T);
      cpu::causalMask(x.data(), want.data(), rows, T);
      EXPECT_TRUE(closeTo(y.values(), want, 0.0)) << "T " << T;
    }
  }
}

TEST(CudaSoftmax, MatchesCpuWithInfinities) {
  // rows, cols. Every row has some −inf entries and row 1 only −inf (NaN
  // in both).
  const int64_t shapes[][2] = {{3, 1}, {17, 33}, {9, 128}, {4, 1000}};
  uint32_t seed = 720;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], cols = shape[1];
    for (bool misaligned : {false, true}) {
      std::vector<float> x = randomFloats(rows * cols, ++seed, -20, 20);
      for (int64_t i = 3; i < rows * cols; i += 7)
        x[i] = -kInf;
      for (int64_t j = 0; j < cols; ++j)
        x[cols + j] = -kInf;
      Buffer xBuffer(x, misaligned), y(rows * cols, misaligned);
      std::vector<float> want(rows * cols);
      softmax(xBuffer.data(), y.data(), rows, cols);
      cpu::softmax(x.data(), want.data(), rows, cols);
      // expf against fastExp; float sums in another order.
      EXPECT_TRUE(closeTo(y.values(), want, 1e-6))
          << rows << "x" << cols << (misaligned ? " misaligned" : "");
    }
  }
}

// B, T, H, Hkv, D: grouped heads with ragged sizes, and one head per group.
const int64_t kAttentionShapes[][5] = {{2, 19, 4, 2, 24}, {1, 8, 3, 3, 16}};

TEST(CudaAttnScores, MatchesCpu) {
  uint32_t seed = 740;
  for (const auto &shape : kAttentionShapes) {
    const int64_t B = shape[0], T = shape[1], H = shape[2], Hkv = shape[3],
                  D = shape[4];
    const std::vector<float> q = randomFloats(B * T * H * D, ++seed);
    const std::vector<float> k = randomFloats(B * T * Hkv * D, ++seed);
    Buffer qBuffer(q, false), kBuffer(k, false), s(B * H * T * T, false);
    std::vector<float> want(B * H * T * T);
    const float scale = 1.0f / std::sqrt(float(D));
    attnScores(qBuffer.data(), kBuffer.data(), s.data(), B, T, H, Hkv, D,
               scale);
    cpu::attnScores(q.data(), k.data(), want.data(), B, T, H, Hkv, D, scale);
    EXPECT_TRUE(closeTo(s.values(), want, 1e-5))
        << B << "x" << T << "x" << H << "/" << Hkv << "x" << D;
  }
}

TEST(CudaAttnApply, MatchesCpu) {
  uint32_t seed = 760;
  for (const auto &shape : kAttentionShapes) {
    const int64_t B = shape[0], T = shape[1], H = shape[2], Hkv = shape[3],
                  D = shape[4];
    const std::vector<float> p = randomFloats(B * H * T * T, ++seed, 0, 1);
    const std::vector<float> v = randomFloats(B * T * Hkv * D, ++seed);
    Buffer pBuffer(p, false), vBuffer(v, false), o(B * T * H * D, false);
    std::vector<float> want(B * T * H * D);
    attnApply(pBuffer.data(), vBuffer.data(), o.data(), B, T, H, Hkv, D);
    cpu::attnApply(p.data(), v.data(), want.data(), B, T, H, Hkv, D);
    EXPECT_TRUE(closeTo(o.values(), want, 1e-5))
        << B << "x" << T << "x" << H << "/" << Hkv << "x" << D;
  }
}

} // namespace
} // namespace gptc::cuda
