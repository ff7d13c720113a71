//===- OptimizerTest.cpp - the optimizer's GPU math against the CPU's -----===//
//
// The TrainOps.h operations run on the SIMT emulator (gemm on the emulator's
// host loops) and are compared with the CPU's Device.h (backends/host/
// DeviceCpu.cpp), which the CPU training programs use, on seeded random
// inputs of ragged sizes: not multiples of a block, of a warp or of 4, and
// matrices wide, tall and square. Workspaces come from the emulated device
// allocator, which fills them with NaN, so a piece read before it is
// written shows.
//
// Tolerances: exact where both sides do the same float operations;
// relative 1e-12 for sums of squares (double sums in another order); 1e-6
// for AdamW; 1e-4 of the largest update for Newton-Schulz and Muon, whose
// GEMMs sum in another order.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Device.h"
#include "backends/cuda/TrainOps.h"
#include "backends/host/Device.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace gptc::cuda {
namespace {

/// Muon's Newton-Schulz iteration, as the CPU runs it.
constexpr NewtonSchulzParameters kNewtonSchulz = {
    host::kNewtonSchulzA, host::kNewtonSchulzB, host::kNewtonSchulzC,
    host::kNewtonSchulzSteps, host::kNewtonSchulzEps};

std::vector<float> randomFloats(int64_t n, uint32_t seed, float std = 1.0f) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> distribution(0.0f, std);
  std::vector<float> values(n);
  for (float &value : values)
    value = distribution(generator);
  return values;
}

/// Emulated device memory, NaN until written, freed on destruction.
class DeviceMemory {
public:
  explicit DeviceMemory(size_t bytes)
      : pointer(deviceAlloc(bytes, "a test buffer")) {}
  ~DeviceMemory() { deviceFree(pointer); }
  DeviceMemory(const DeviceMemory &) = delete;
  DeviceMemory &operator=(const DeviceMemory &) = delete;

  template <typename T> T *as() const { return static_cast<T *>(pointer); }

private:
  void *pointer;
};

/// The largest |a[i] - b[i]|.
double maxDifference(const std::vector<float> &a, const std::vector<float> &b) {
  double difference = 0;
  for (size_t i = 0; i < a.size(); ++i)
    difference = std::max(difference, std::fabs(double(a[i]) - double(b[i])));
  return difference;
}

/// The largest |a[i]|.
double maxMagnitude(const std::vector<float> &a) {
  double magnitude = 0;
  for (float value : a)
    magnitude = std::max(magnitude, std::fabs(double(value)));
  return magnitude;
}

/// sumOfSquares on the emulator.
double emulatedSumOfSquares(const std::vector<float> &x) {
  DeviceMemory sums(sizeof(double) * size_t(kSumOfSquaresBlocks + 1));
  sumOfSquares(x.data(), int64_t(x.size()), sums.as<double>(),
               sums.as<double>() + kSumOfSquaresBlocks);
  return sums.as<double>()[kSumOfSquaresBlocks];
}

TEST(OptimizerOps, TheReferenceIsTheCpu) {
  // The host:: functions must be DeviceCpu.cpp's (gptc_host_device_cpu), not
  // HostDevice.cpp's, which would compare the emulator with itself.
  ASSERT_EQ(host::deviceDescription(), "CPU");
}

TEST(OptimizerOps, SumOfSquaresMatchesTheCpu) {
  // Below one block, a few blocks, and more than kSumOfSquaresBlocks blocks'
  // threads (a grid-stride loop of two passes).
  for (int64_t n : {int64_t(1), int64_t(37), int64_t(1000), int64_t(140001)}) {
    std::vector<float> x = randomFloats(n, uint32_t(n));
    double expected = host::sumOfSquares(x.data(), n);
    EXPECT_NEAR(emulatedSumOfSquares(x), expected, 1e-12 * expected) << n;
  }
  EXPECT_EQ(emulatedSumOfSquares({}), 0.0);
}

TEST(OptimizerOps, AddScaledAndStoreScaledMatchTheCpu) {
  const int64_t n = 1029;
  std::vector<float> x = randomFloats(n, 1), y = randomFloats(n, 2);

  std::vector<float> sum = y, expectedSum = y;
  addScaled(sum.data(), x.data(), n, 1.0f);
  host::addInPlace(expectedSum.data(), x.data(), n);
  EXPECT_EQ(sum, expectedSum);

  std::vector<float> scaled(n, NAN), expectedScaled = x;
  storeScaled(x.data(), scaled.data(), n, 0.37f);
  host::scaleInPlace(expectedScaled.data(), n, 0.37f);
  EXPECT_EQ(scaled, expectedScaled);
  storeScaled(x.data(), x.data(), n, 0.37f); // in place
  EXPECT_EQ(x, expectedScaled);

  // param -= lr · u, as Muon's last step.
  std::vector<float> param = y;
  addScaled(param.data(), x.data(), n, -0.02f);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(param[i], y[i] - 0.02f * x[i]) << i;
}

TEST(OptimizerOps, AdamWStepsMatchTheCpu) {
  const int64_t n = 2053;
  std::vector<float> param = randomFloats(n, 3), m(n, 0.0f), v(n, 0.0f);
  std::vector<float> expectedParam = param, expectedM = m, expectedV = v;
  for (int64_t t = 1; t <= 3; ++t) {
    std::vector<float> grad = randomFloats(n, uint32_t(10 + t), 0.01f);
    host::AdamWStep step = {0.8f, 0.95f, 1e-10f,
                            float(0.01 / (1.0 - std::pow(0.8, double(t)))),
                            float(std::sqrt(1.0 - std::pow(0.95, double(t))))};
    adamwUpdate(param.data(), grad.data(), m.data(), v.data(), n, step.beta1,
                step.beta2, step.eps, step.stepSize, step.bias2Sqrt);
    host::adamwUpdate(expectedParam.data(), grad.data(), expectedM.data(),
                      expectedV.data(), n, step);
  }
  EXPECT_LE(maxDifference(param, expectedParam),
            1e-6 * maxMagnitude(expectedParam));
  EXPECT_LE(maxDifference(m, expectedM), 1e-6 * maxMagnitude(expectedM));
  EXPECT_LE(maxDifference(v, expectedV), 1e-6 * maxMagnitude(expectedV));
}

/// Wide, tall and square matrices, none a multiple of a warp.
const std::pair<int64_t, int64_t> kShapes[] = {
    {24, 40}, {40, 24}, {33, 33}, {7, 61}, {61, 7}};

TEST(OptimizerOps, NewtonSchulzMatchesTheCpu) {
  for (auto [rows, cols] : kShapes) {
    const int64_t n = rows * cols;
    std::vector<float> g = randomFloats(n, uint32_t(n));
    std::vector<float> expected(n), out(n, NAN);
    host::DeviceBuffer cpuScratch;
    host::newtonSchulz5(g.data(), expected.data(), rows, cols, cpuScratch);
    DeviceMemory workspace(muonWorkspaceBytes(rows, cols));
    newtonSchulz(g.data(), out.data(), rows, cols, kNewtonSchulz,
                 workspace.as<void>());
    const double tolerance = 1e-4 * maxMagnitude(expected);
    EXPECT_LE(maxDifference(out, expected), tolerance) << rows << "x" << cols;
    // In place, on a workspace used before.
    newtonSchulz(g.data(), g.data(), rows, cols, kNewtonSchulz,
                 workspace.as<void>());
    EXPECT_EQ(g, out) << rows << "x" << cols;
  }
}

TEST(OptimizerOps, MuonStepsMatchTheCpu) {
  for (auto [rows, cols] : kShapes) {
    const int64_t n = rows * cols;
    const float mu = 0.95f;
    const float lr =
        float(0.02 * std::sqrt(std::max(1.0, double(rows) / double(cols))));
    std::vector<float> param = randomFloats(n, 5, 0.1f), momentum(n, 0.0f);
    std::vector<float> expectedParam = param, expectedMomentum = momentum;
    host::DeviceBuffer cpuScratch;
    DeviceMemory workspace(muonWorkspaceBytes(rows, cols));
    for (int step = 0; step < 2; ++step) {
      std::vector<float> grad = randomFloats(n, uint32_t(20 + step), 0.01f);
      // Both sides start each step from the CPU's parameters, so that the
      // tolerance bounds one step's difference.
      std::vector<float> before = expectedParam;
      param = before;
      muonUpdate(param.data(), grad.data(), momentum.data(), rows, cols, mu, lr,
                 kNewtonSchulz, workspace.as<void>());
      host::muonUpdate(expectedParam.data(), grad.data(),
                       expectedMomentum.data(), rows, cols, {mu, lr},
                       cpuScratch);
      std::vector<float> update(n); // [rows, cols]: this step's change
      for (int64_t i = 0; i < n; ++i)
        update[i] = expectedParam[i] - before[i];
      EXPECT_LE(maxDifference(param, expectedParam),
                1e-4 * maxMagnitude(update))
          << rows << "x" << cols << " step " << step;
      EXPECT_LE(maxDifference(momentum, expectedMomentum),
                1e-6 * maxMagnitude(expectedMomentum))
          << rows << "x" << cols << " step " << step;
    }
  }
}

} // namespace
} // namespace gptc::cuda
