//===- DecodeCheck.h - what `gptc verify` checks of decoding ----*- C++ -*-===//
//
// The decode check runs a reference bundle's greedy decode through the
// Decoder the decode program uses: the logits of every generated step, the
// greedy tokens, and how far the prompt's logits fed through prefill chunks
// are from those of the same prompt fed one token at a time through step.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_DECODECHECK_H
#define GPTC_BACKENDS_HOST_DECODECHECK_H

#include "backends/common/Status.h"
#include "backends/host/Decoder.h"

#include <cstdint>
#include <vector>

namespace gptc::host {

/// What the check writes.
struct DecodeCheck {
  std::vector<float> stepLogits; // [steps, V]
  std::vector<int64_t> tokens;   // [steps]
  float chunkedPrefillDiff = 0;  // max |prefill - step-only| of the prompt
};

/// Decodes `steps` tokens greedily after `prompt` (not empty) in row 0 of
/// `decoder`, which it resets first: each step's logits pick the next token,
/// which is fed back. Fails, before feeding anything, when the prompt and
/// the steps do not fit in the KV cache.
Expected<DecodeCheck> runDecodeCheck(Decoder &decoder,
                                     const std::vector<int32_t> &prompt,
                                     int64_t steps);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_DECODECHECK_H
