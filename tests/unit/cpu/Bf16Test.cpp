//===- Bf16Test.cpp - tests of linearBf16 and linearBackwardBf16 ----------===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

#include <functional>

namespace gptc::cpu {
namespace {

/// Calls check(rows, in, out) for ragged shapes: rows 1, 3 and 4 take
/// linearBf16's matrix-vector path, 7 and 130 the oneDNN matmul; in and out
/// from 16 to 384, 37 and 200 not multiples of that path's 32-value chunks
/// and (37) of its 4-output blocks, or of oneDNN's tiles.
void forEachShape(const std::function<void(int64_t, int64_t, int64_t)> &check) {
  const int64_t rowCounts[] = {1, 3, 4, 7, 130};
  const int64_t sizes[] = {16, 37, 64, 200, 384};
  for (int64_t rows : rowCounts)
    for (int64_t in : sizes)
      for (int64_t out : sizes)
        check(rows, in, out);
}

/// n values uniform in [-1, 1), or with ties set, the same with their low
/// 16 bits replaced by 0x8000: each exactly halfway between two bfloat16
/// values, so that rounding them tests ties to even.
std::vector<float> inputs(int64_t n, uint32_t seed, bool ties) {
  std::vector<float> values = ref::randomFloats(n, seed);
  if (ties)
    for (float &value : values)
      value = __builtin_bit_cast(
          float, (__builtin_bit_cast(uint32_t, value) & 0xFFFF0000u) | 0x8000u);
  return values;
}

/// values rounded to bfloat16, exactly, in double.
std::vector<double> roundedToBf16(const std::vector<float> &values) {
  std::vector<double> rounded(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    rounded[i] = ref::roundBf16(values[i]);
  return rounded;
}

/// Both kernels on 1 and 2 threads against the double reference computed
/// from the inputs rounded to bfloat16. A product of two bfloat16 values
/// (8 significant bits each) is exact in float, so the kernels differ from
/// that reference only by the float rounding of their sums. With inputs in
/// [-1, 1], a length-K sum's partial sums grow like sqrt(k/9) and k
/// roundings of at most 2^-24 of them add up, as a random walk, to a
/// standard deviation of about 2^-24·K/7 ≈ 8e-9·K; atol 1e-7·K is 12 of
/// them. Rounding differently (truncating, ties away from zero, or not at
/// all) moves an input by up to 2^-8 of it and a sum by about
/// 7e-4·sqrt(K) (see StaysCloseToFloatKernels), hundreds of times the
/// tolerance.
void checkAgainstRoundedReference(bool ties) {
  uint32_t seed = ties ? 700 : 600;
  forEachShape([&](int64_t rows, int64_t in, int64_t out) {
    const std::vector<float> x = inputs(rows * in, ++seed, ties); // [rows, in]
    const std::vector<float> w = inputs(out * in, ++seed, ties);  // [out, in]
    const std::vector<float> dy =
        inputs(rows * out, ++seed, ties);                    // [rows, out]
    const std::vector<double> xRounded = roundedToBf16(x);   // [rows, in]
    const std::vector<double> wRounded = roundedToBf16(w);   // [out, in]
    const std::vector<double> dyRounded = roundedToBf16(dy); // [rows, out]
    const std::vector<double> wantY =                        // [rows, out]
        ref::linear(xRounded, wRounded, rows, in, out);
    std::vector<double> wantDx, wantDw; // [rows, in], [out, in]
    ref::linearBackward(dyRounded, xRounded, wRounded, rows, in, out, wantDx,
                        wantDw);
    for (int threads : {1, 2}) {
      ref::ThreadCount threadCount(threads);
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> y(rows * out, nan); // [rows, out]
      std::vector<float> dx(rows * in, nan),
          dw(out * in, nan); // [rows, in], [out, in]
      linearBf16(x.data(), w.data(), y.data(), rows, in, out);
      linearBackwardBf16(dy.data(), x.data(), w.data(), dx.data(), dw.data(),
                         rows, in, out);
      EXPECT_TRUE(ref::allClose(y, wantY, 1e-7 * in, 0.0))
          << rows << "x" << in << " -> " << out << ", " << threads
          << " threads";
      EXPECT_TRUE(ref::allClose(dx, wantDx, 1e-7 * out, 0.0))
          << rows << "x" << in << " -> " << out << ", " << threads
          << " threads";
      EXPECT_TRUE(ref::allClose(dw, wantDw, 1e-7 * rows, 0.0))
          << rows << "x" << in << " -> " << out << ", " << threads
          << " threads";
    }
  });
}

TEST(LinearBf16, MatchesReferenceOnRoundedInputs) {
  checkAgainstRoundedReference(/*ties=*/false);
}

TEST(LinearBf16, RoundsTiesToEven) {
  checkAgainstRoundedReference(/*ties=*/true);
}

TEST(LinearBf16, StaysCloseToFloatKernels) {
  // Against linear and linearBackward on the same (unrounded) inputs,
  // uniform in [-1, 1). Rounding an input to bfloat16 (8 significant bits)
  // changes it by a relative δ, |δ| <= 2^-8 and E[δ²] ≈ 2^-16/6, so a
  // product x·w by x·w·(δx + δw), of variance E[x²w²]·2^-16/3 = 2^-16/27,
  // and a length-K sum by a random walk of standard deviation
  // σ = 2^-8·sqrt(K/27) ≈ 0.19·2^-8·sqrt(K) (0.18 measured). atol
  // 2^-7·sqrt(K) is 10σ, where the largest of the few million outputs
  // compared is expected near 5.5σ; the float rounding of the sums (1e-7·K)
  // is negligible beside it. A transposition or indexing mistake errs by
  // order sqrt(K)/3.
  uint32_t seed = 800;
  forEachShape([&](int64_t rows, int64_t in, int64_t out) {
    const std::vector<float> x =
        ref::randomFloats(rows * in, ++seed); // [rows, in]
    const std::vector<float> w =
        ref::randomFloats(out * in, ++seed); // [out, in]
    const std::vector<float> dy =
        ref::randomFloats(rows * out, ++seed); // [rows, out]
    auto tolerance = [](int64_t k) {
      return std::sqrt(static_cast<double>(k)) / 128.0;
    };
    for (int threads : {1, 2}) {
      ref::ThreadCount threadCount(threads);
      std::vector<float> y(rows * out), yBf16(rows * out); // [rows, out]
      std::vector<float> dx(rows * in), dxBf16(rows * in); // [rows, in]
      std::vector<float> dw(out * in), dwBf16(out * in);   // [out, in]
      linear(x.data(), w.data(), y.data(), rows, in, out);
      linearBf16(x.data(), w.data(), yBf16.data(), rows, in, out);
      linearBackward(dy.data(), x.data(), w.data(), dx.data(), dw.data(), rows,
                     in, out);
      linearBackwardBf16(dy.data(), x.data(), w.data(), dxBf16.data(),
                         dwBf16.data(), rows, in, out);
      EXPECT_TRUE(ref::allClose(yBf16, ref::widen(y), tolerance(in), 0.0))
          << rows << "x" << in << " -> " << out << ", " << threads
          << " threads";
      EXPECT_TRUE(ref::allClose(dxBf16, ref::widen(dx), tolerance(out), 0.0))
          << rows << "x" << in << " -> " << out << ", " << threads
          << " threads";
      EXPECT_TRUE(ref::allClose(dwBf16, ref::widen(dw), tolerance(rows), 0.0))
          << rows << "x" << in << " -> " << out << ", " << threads
          << " threads";
    }
  });
}

TEST(LinearBf16, EmptyShapes) {
  // No rows: nothing is written but dw, the empty sum over rows (zeros). No
  // inputs: y is the empty sum, on both paths of linearBf16 (2 and 8 rows).
  // No outputs: dx is the empty sum.
  std::vector<float> x(16, 1.0f), w(6, 1.0f), dy(16, 1.0f);
  std::vector<float> y(16, 5.0f), dx(16, 5.0f), dw(6, 5.0f);
  linearBf16(x.data(), w.data(), y.data(), 0, 3, 2);
  EXPECT_TRUE(ref::allClose(y, std::vector<double>(16, 5.0), 0.0, 0.0));
  linearBackwardBf16(dy.data(), x.data(), w.data(), dx.data(), dw.data(), 0, 3,
                     2);
  EXPECT_TRUE(ref::allClose(dx, std::vector<double>(16, 5.0), 0.0, 0.0));
  EXPECT_TRUE(ref::allClose(dw, std::vector<double>(6, 0.0), 0.0, 0.0));
  for (int64_t rows : {2, 8}) {
    y.assign(rows * 2, 5.0f);
    linearBf16(x.data(), w.data(), y.data(), rows, 0, 2);
    EXPECT_TRUE(ref::allClose(y, std::vector<double>(rows * 2, 0.0), 0.0, 0.0))
        << rows << " rows";
  }
  dx.assign(16, 5.0f);
  linearBackwardBf16(dy.data(), x.data(), w.data(), dx.data(), dw.data(), 8, 2,
                     0);
  EXPECT_TRUE(ref::allClose(dx, std::vector<double>(16, 0.0), 0.0, 0.0));
}

} // namespace
} // namespace gptc::cpu
