//===- Sampler.h - drawing the next token from logits -----------*- C++ -*-===//
//
// The decode program's sampling, as nanochat's Engine samples: temperature 0
// takes the argmax; otherwise with top-k > 0 the k largest logits are divided
// by the temperature, softmaxed and one token is drawn from them; with
// top-k = 0 the whole vocabulary is. Draws come from one splitmix64 stream
// (Random.h) seeded by the run's seed, so a fixed seed reproduces a run.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_SAMPLER_H
#define GPTC_BACKENDS_HOST_SAMPLER_H

#include "backends/host/Random.h"

#include <cstdint>
#include <vector>

namespace gptc::host {

struct SamplingOptions {
  double temperature = 0.8; // >= 0; 0 takes the argmax
  int64_t topK = 50;        // >= 0; 0 samples from the whole vocabulary
};

/// The index of the largest of logits [V]; the lowest index on ties.
int32_t argmax(const float *logits, int64_t V);

class Sampler {
public:
  /// A sampler whose draws come from the stream "sampling" of `seed`.
  Sampler(const SamplingOptions &options, uint64_t seed);

  /// A token drawn from logits [V]: one uniform draw unless greedy.
  int32_t sample(const float *logits, int64_t V);

private:
  SamplingOptions options;
  Rng rng;
  std::vector<int32_t> candidates; // [V]: token ids, the top k first
  std::vector<double> weights;     // [k]: unnormalized probabilities
};

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_SAMPLER_H
