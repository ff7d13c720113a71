//===- LinearTest.cpp - tests of linear and its gradient (oneDNN sgemm) ---===//

#include "backends/cpu/Kernels.h"
#include "tests/unit/cpu/Reference.h"

namespace gptc::cpu {
namespace {

TEST(Linear, MatchesReference) {
  // Inputs are uniform in [-1, 1), so partial sums of a length-K dot
  // product grow like sqrt(K)/sqrt(3) and K roundings of half an ulp each
  // add up (as a random walk) to about K·2^-24·|partial|/sqrt(K) ≈ 3e-8·K.
  // atol 4e-7·K leaves a margin of 10; an indexing or transposition mistake
  // errs by order sqrt(K).
  const int64_t shapes[][3] = {{1, 17, 33},  {1, 768, 1000}, {3, 64, 50},
                               {33, 130, 7}, {64, 256, 300}, {130, 65, 129},
                               {7, 1000, 1}};
  uint32_t seed = 80;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], in = shape[1], out = shape[2];
    const std::vector<float> x = ref::randomFloats(rows * in, ++seed);
    const std::vector<float> w = ref::randomFloats(out * in, ++seed);
    std::vector<float> y(rows * out);
    linear(x.data(), w.data(), y.data(), rows, in, out);
    EXPECT_TRUE(
        ref::allClose(y, ref::linear(x, w, rows, in, out), 4e-7 * in, 0.0))
        << rows << "x" << in << " -> " << out;
  }
}

TEST(Linear, EmptyShapes) {
  // No rows: nothing is written. No inputs: the empty sum, zeros.
  std::vector<float> x(6, 1.0f), w(6, 1.0f), y(4, 5.0f);
  linear(x.data(), w.data(), y.data(), 0, 3, 2);
  EXPECT_TRUE(ref::allClose(y, std::vector<double>(4, 5.0), 0.0, 0.0));
  linear(x.data(), w.data(), y.data(), 2, 0, 2);
  EXPECT_TRUE(ref::allClose(y, std::vector<double>(4, 0.0), 0.0, 0.0));
}

TEST(LinearBackward, MatchesReference) {
  // dx sums over `out` products and dw over `rows`, each of two inputs
  // uniform in [-1, 1): as in MatchesReference, the float error is about
  // 3e-8 per term of the sum, so atol 4e-7 times the sum's length. The
  // outputs are filled with NaN first: both must be overwritten.
  const int64_t shapes[][3] = {{1, 17, 33},    {3, 64, 50},    {33, 130, 7},
                               {64, 256, 300}, {130, 65, 129}, {7, 1000, 1}};
  uint32_t seed = 180;
  for (const auto &shape : shapes) {
    const int64_t rows = shape[0], in = shape[1], out = shape[2];
    const std::vector<float> dy = ref::randomFloats(rows * out, ++seed);
    const std::vector<float> x = ref::randomFloats(rows * in, ++seed);
    const std::vector<float> w = ref::randomFloats(out * in, ++seed);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> dx(rows * in, nan), dw(out * in, nan);
    linearBackward(dy.data(), x.data(), w.data(), dx.data(), dw.data(), rows,
                   in, out);
    std::vector<double> wantDx, wantDw;
    ref::linearBackward(dy, x, w, rows, in, out, wantDx, wantDw);
    EXPECT_TRUE(ref::allClose(dx, wantDx, 4e-7 * out, 0.0))
        << rows << "x" << in << " -> " << out;
    EXPECT_TRUE(ref::allClose(dw, wantDw, 4e-7 * rows, 0.0))
        << rows << "x" << in << " -> " << out;
  }
}

TEST(LinearBackward, NoRowsGiveZeroWeightGradient) {
  // dw is the empty sum over rows: zeros, overwriting what was there.
  std::vector<float> dy(1), x(1), w(6, 1.0f), dx(1, 5.0f), dw(6, 5.0f);
  linearBackward(dy.data(), x.data(), w.data(), dx.data(), dw.data(), 0, 3, 2);
  EXPECT_TRUE(ref::allClose(dw, std::vector<double>(6, 0.0), 0.0, 0.0));
}

TEST(LinearBackward, GradientMatchesFiniteDifferences) {
  // L = Σ linear(x, w)·dy in double is bilinear, so central differences err
  // only by rounding, 2^-53·|L|/h ≈ 1e-9: atol 1e-7.
  const int64_t rows = 3, in = 5, out = 4;
  const std::vector<double> x = ref::widen(ref::randomFloats(rows * in, 190));
  const std::vector<double> w = ref::widen(ref::randomFloats(out * in, 191));
  const std::vector<double> dy = ref::widen(ref::randomFloats(rows * out, 192));
  std::vector<double> dx, dw;
  ref::linearBackward(dy, x, w, rows, in, out, dx, dw);
  auto lossOfX = [&](const std::vector<double> &input) {
    return ref::dot(ref::linear(input, w, rows, in, out), dy);
  };
  auto lossOfW = [&](const std::vector<double> &input) {
    return ref::dot(ref::linear(x, input, rows, in, out), dy);
  };
  EXPECT_TRUE(ref::allClose(dx, ref::finiteDifferences(lossOfX, x), 1e-7, 0.0));
  EXPECT_TRUE(ref::allClose(dw, ref::finiteDifferences(lossOfW, w), 1e-7, 0.0));
}

} // namespace
} // namespace gptc::cpu
