//===- DecodeCheck.cpp - what `gptc verify` checks of decoding ------------===//

#include "backends/host/DecodeCheck.h"

#include <algorithm>
#include <cmath>

using namespace gptc;
using namespace gptc::host;

/// Feeds `prompt` to a fresh `decoder` along `path`; the logits [V] of its
/// last token.
static Expected<std::vector<float>>
promptLogits(Decoder &decoder, const std::vector<int32_t> &prompt,
             FeedPath path) {
  decoder.reset();
  if (Status status = decoder.feedAll(prompt, path); !status.ok())
    return status;
  const float *logits = decoder.logits(0);
  return std::vector<float>(logits, logits + decoder.getShape().V);
}

Expected<DecodeCheck>
gptc::host::runDecodeCheck(Decoder &decoder, const std::vector<int32_t> &prompt,
                           int64_t steps) {
  const int64_t V = decoder.getShape().V;
  decoder.reset();
  // Every generated token is fed back, the last one too.
  if (Status room = decoder.checkRoom(int64_t(prompt.size()) + steps);
      !room.ok())
    return Status::error("the bundle's prompt and its {} decode steps do not "
                         "fit: {}",
                         steps, room.message());
  Expected<std::vector<float>> stepwise =
      promptLogits(decoder, prompt, FeedPath::StepOnly);
  if (!stepwise.ok())
    return stepwise.status();
  Expected<std::vector<float>> chunked =
      promptLogits(decoder, prompt, FeedPath::Prefill);
  if (!chunked.ok())
    return chunked.status();
  DecodeCheck check;
  // A NaN stays, so that gptc verify fails on it.
  for (int64_t v = 0; v < V; ++v) {
    float diff = std::fabs((*chunked)[v] - (*stepwise)[v]);
    if (std::isnan(diff) || diff > check.chunkedPrefillDiff)
      check.chunkedPrefillDiff = diff;
  }

  check.stepLogits.resize(size_t(steps * V));
  check.tokens.resize(size_t(steps));
  for (int64_t i = 0; i < steps; ++i) {
    const float *logits = decoder.logits(0);
    std::copy(logits, logits + V, check.stepLogits.begin() + i * V);
    check.tokens[i] = std::max_element(logits, logits + V) - logits;
    if (Status status = decoder.feedAll({int32_t(check.tokens[i])});
        !status.ok())
      return status;
  }
  return check;
}
