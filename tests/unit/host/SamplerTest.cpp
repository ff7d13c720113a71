//===- SamplerTest.cpp - drawing tokens from logits -----------------------===//

#include "backends/host/Sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace gptc::host;

namespace {

/// V logits drawn from a standard normal.
std::vector<float> randomLogits(int64_t V, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> logits(V); // [V]
  for (float &logit : logits)
    logit = float(rng.normal());
  return logits;
}

/// softmax(logits / temperature) over the `k` largest logits (all for
/// k = 0), zero elsewhere.
std::vector<double> expectedProbabilities(const std::vector<float> &logits,
                                          double temperature, int64_t k) {
  const int64_t V = int64_t(logits.size());
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  float threshold = k > 0 ? sorted[std::min(k, V) - 1] : sorted.back();
  std::vector<double> p(V, 0.0); // [V]
  double total = 0;
  for (int64_t v = 0; v < V; ++v)
    if (logits[v] >= threshold)
      total += p[v] = std::exp((logits[v] - sorted[0]) / temperature);
  for (double &x : p)
    x /= total;
  return p;
}

/// How often each token is drawn in `draws` draws, as a fraction.
std::vector<double>
frequencies(Sampler &sampler, const std::vector<float> &logits, int64_t draws) {
  std::vector<double> counts(logits.size(), 0.0); // [V]
  for (int64_t i = 0; i < draws; ++i)
    ++counts[sampler.sample(logits.data(), int64_t(logits.size()))];
  for (double &count : counts)
    count /= double(draws);
  return counts;
}

/// Checks the observed frequencies against `expected`. With N draws a
/// frequency has standard error sqrt(p (1 - p) / N); allowing 5 of them
/// (plus 1e-9 for p = 0), a correct sampler fails a bin with probability
/// below 1e-6, and as the seed is fixed the test cannot flake. A sampler
/// off by a temperature factor or by one token in its cumulative walk misses
/// by many standard errors at N = 20,000.
void expectDistribution(const std::vector<double> &observed,
                        const std::vector<double> &expected, int64_t draws) {
  for (size_t v = 0; v < expected.size(); ++v) {
    double p = expected[v];
    double tolerance = 5 * std::sqrt(p * (1 - p) / double(draws)) + 1e-9;
    EXPECT_NEAR(observed[v], p, tolerance) << "token " << v;
  }
}

TEST(Sampler, TemperatureZeroIsArgmax) {
  std::vector<float> logits = randomLogits(100, 1);
  int32_t best =
      int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  EXPECT_EQ(argmax(logits.data(), 100), best);
  Sampler sampler({/*temperature=*/0, /*topK=*/50}, 42);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(sampler.sample(logits.data(), 100), best);
  // Ties go to the lowest id.
  const float tied[] = {1, 3, 2, 3};
  EXPECT_EQ(argmax(tied, 4), 1);
}

TEST(Sampler, TopKNeverPicksOutsideTheTopK) {
  const int64_t V = 200, k = 5;
  std::vector<float> logits = randomLogits(V, 2);
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  // A high temperature flattens the distribution, so that without the cut
  // every token would be likely to come up.
  Sampler sampler({/*temperature=*/5.0, k}, 3);
  std::vector<int64_t> seen(V, 0); // [V]
  for (int i = 0; i < 5000; ++i) {
    int32_t token = sampler.sample(logits.data(), V);
    ASSERT_GE(logits[token], sorted[k - 1]) << "token " << token;
    ++seen[token];
  }
  // All k come up.
  EXPECT_EQ(std::count_if(seen.begin(), seen.end(),
                          [](int64_t count) { return count > 0; }),
            k);
}

TEST(Sampler, LowTemperatureApproachesGreedy) {
  const int64_t V = 50, draws = 2000;
  std::vector<float> logits = randomLogits(V, 4);
  int32_t best = argmax(logits.data(), V);
  double previous = 0;
  for (double temperature : {2.0, 1.0, 0.3, 0.1, 0.01, 1e-4}) {
    Sampler sampler({temperature, /*topK=*/0}, 5);
    double share = frequencies(sampler, logits, draws)[best];
    EXPECT_GE(share, previous) << "temperature " << temperature;
    previous = share;
  }
  // The gap between the two largest of these logits is far above 1e-4.
  EXPECT_EQ(previous, 1.0);
}

TEST(Sampler, TheSameSeedDrawsTheSameTokens) {
  const int64_t V = 64;
  std::vector<float> logits = randomLogits(V, 6);
  Sampler a({1.0, 20}, 9), b({1.0, 20}, 9), other({1.0, 20}, 10);
  bool differs = false;
  for (int i = 0; i < 200; ++i) {
    int32_t token = a.sample(logits.data(), V);
    EXPECT_EQ(token, b.sample(logits.data(), V)) << "draw " << i;
    differs = differs || token != other.sample(logits.data(), V);
  }
  EXPECT_TRUE(differs);
}

TEST(Sampler, DrawsFollowTheTemperedSoftmax) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
  const int64_t draws = 20000;
  Sampler all({0.7, /*topK=*/0}, 11);
  expectDistribution(frequencies(all, logits, draws),
                     expectedProbabilities(logits, 0.7, 0), draws);
  // Top-k renormalizes over the k largest: tokens 2, 5 and 1.
  Sampler top3({1.3, /*topK=*/3}, 12);
  expectDistribution(frequencies(top3, logits, draws),
                     expectedProbabilities(logits, 1.3, 3), draws);
  // A k beyond the vocabulary is the whole vocabulary, as in nanochat.
  Sampler wide({1.0, /*topK=*/100}, 13);
  expectDistribution(frequencies(wide, logits, draws),
                     expectedProbabilities(logits, 1.0, 0), draws);
}

} // namespace
