//===- LinearTest.cpp - tests of linear (oneDNN sgemm) --------------------===//

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

} // namespace
} // namespace gptc::cpu
