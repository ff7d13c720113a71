//===- Sampler.cpp - drawing the next token from logits -------------------===//

#include "backends/host/Sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace gptc;
using namespace gptc::host;

int32_t gptc::host::argmax(const float *logits, int64_t V) {
  return int32_t(std::max_element(logits, logits + V) - logits);
}

Sampler::Sampler(const SamplingOptions &options, uint64_t seed)
    : options(options), rng(Rng::forStream(seed, "sampling")) {}

int32_t Sampler::sample(const float *logits, int64_t V) {
  if (options.temperature == 0)
    return argmax(logits, V);

  // The candidates: with top-k, the k largest logits, largest first (the
  // lower id first on ties, so the order is the same on every platform);
  // otherwise the whole vocabulary in id order.
  candidates.resize(V);
  std::iota(candidates.begin(), candidates.end(), 0);
  int64_t k = options.topK > 0 ? std::min(options.topK, V) : V;
  if (k < V) {
    auto larger = [logits](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    };
    std::nth_element(candidates.begin(), candidates.begin() + (k - 1),
                     candidates.end(), larger);
    std::sort(candidates.begin(), candidates.begin() + k, larger);
  }

  // softmax(logits / temperature) over the candidates, unnormalized.
  float maxLogit = logits[candidates[0]];
  for (int64_t i = 1; i < k; ++i)
    maxLogit = std::max(maxLogit, logits[candidates[i]]);
  weights.resize(k);
  double total = 0;
  for (int64_t i = 0; i < k; ++i) {
    weights[i] = std::exp(double(logits[candidates[i]] - maxLogit) /
                          options.temperature);
    total += weights[i];
  }

  // One draw: the first candidate whose cumulative weight exceeds it.
  double target = rng.uniform() * total;
  double cumulative = 0;
  for (int64_t i = 0; i < k; ++i) {
    cumulative += weights[i];
    if (target < cumulative)
      return candidates[i];
  }
  // Only reached when the logits hold a NaN: the cumulative sum ends at
  // `total` exactly (the same additions in the same order), above `target`.
  return candidates[k - 1];
}
