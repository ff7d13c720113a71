//===- DecodeCheckMain.cpp - main() of a decode-check program -------------===//
//
// Runs a decode module's `prefill` and `step` on a reference bundle's greedy
// decode (one row) and writes what `gptc verify` compares: the logits of
// every generated step, the greedy tokens, and how far a prompt fed in
// prefill chunks is from the same prompt fed one token at a time.
//
//===----------------------------------------------------------------------===//

#include "backends/common/Safetensors.h"
#include "backends/host/GeneratedPrograms.h"
#include "backends/host/HostCommon.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace gptc;
using namespace gptc::host;

namespace {

/// One row's KV cache and the buffers both programs run on, in device
/// memory; `step` runs as a StepGraph, as in the decode program.
struct Decoder {
  char *params;
  char *arena;
  int64_t chunk, vocab;
  DeviceBuffer kCache, vCache; // [L, 1, Cap, Hkv, D]
  DeviceBuffer length;         // [1], advanced by the programs
  DeviceBuffer chunkTokens;    // [1, Tc]
  DeviceBuffer chunkLogits;    // [1, Tc, V]
  DeviceBuffer stepTokens;     // [1, 1]
  DeviceBuffer stepLogits;     // [1, 1, V]
  StepGraph stepGraph;

  Decoder(char *params, char *arena)
      : params(params), arena(arena), chunk(prefill_program.inputs[0].shape[1]),
        vocab(step_program.outputs[0].shape[2]) {
    const size_t cacheBytes =
        sizeof(float) * size_t(step_program.inputs[1].numel());
    const size_t chunkBytes = sizeof(int32_t) * size_t(chunk);
    const size_t logitsBytes = sizeof(float) * size_t(vocab);
    kCache = allocateDevice(cacheBytes, "the KV cache");
    vCache = allocateDevice(cacheBytes, "the KV cache");
    length = allocateDevice(sizeof(int32_t), "the length");
    chunkTokens = allocateDevice(chunkBytes, "the prefill tokens");
    chunkLogits =
        allocateDevice(size_t(chunk) * logitsBytes, "the prefill logits");
    stepTokens = allocateDevice(sizeof(int32_t), "the step token");
    stepLogits = allocateDevice(logitsBytes, "the step logits");
  }

  /// Feeds `tokens` (whole prefill chunks first when `usePrefill`, the rest
  /// one at a time) and returns the logits [V] of the last one.
  std::vector<float> feed(const std::vector<int32_t> &tokens, bool usePrefill) {
    const size_t logitsBytes = sizeof(float) * size_t(vocab);
    const char *last = nullptr; // the last token's logits [V] on the device
    size_t next = 0;
    if (usePrefill) {
      for (; next + chunk <= tokens.size(); next += chunk) {
        copyToDevice(chunkTokens.get(), tokens.data() + next,
                     sizeof(int32_t) * size_t(chunk));
        prefill(params, chunkTokens.as<int32_t>(), kCache.get(), vCache.get(),
                length.get(), chunkLogits.as<float>(), arena);
        last = chunkLogits.get() + size_t(chunk - 1) * logitsBytes;
      }
    }
    for (; next < tokens.size(); ++next) {
      copyToDevice(stepTokens.get(), &tokens[next], sizeof(int32_t));
      stepGraph.run([&] {
        step(params, stepTokens.as<int32_t>(), kCache.get(), vCache.get(),
             length.get(), stepLogits.as<float>(), arena);
      });
      last = stepLogits.get();
    }
    std::vector<float> logits(vocab); // [V]
    if (last)
      copyToHost(logits.data(), last, logitsBytes);
    return logits;
  }
};

} // namespace

int main(int argc, char **argv) {
  Expected<Args> args = parseArgsAndStartDevice(
      argc, argv,
      std::string("usage: ") + argv[0] +
          " --weights W.safetensors --data D.safetensors --out O.safetensors"
          "\n\nDecodes the bundle's 'decode.prompt' greedily for as many "
          "steps as 'decode.tokens'\nholds and writes 'step_logits', "
          "'tokens' and 'chunked_prefill_diff'.",
      {{"weights", "safetensors file with every parameter"},
       {"data", "reference bundle with 'decode.prompt' and 'decode.tokens'"},
       {"out", "where to write the results"}},
      {"weights", "data", "out"});
  if (!args.ok())
    return fail(argv[0], args.status());
  if (step_program.inputs[0].shape[0] != 1)
    return fail(argv[0], Status::error("the decode check needs a program "
                                       "compiled with --rows 1"));

  Expected<DeviceBuffer> params =
      loadParametersToDevice(step_program, args->get("weights"));
  if (!params.ok())
    return fail(argv[0], params.status());
  Expected<SafetensorsFile> data = SafetensorsFile::open(args->get("data"));
  if (!data.ok())
    return fail(argv[0], data.status());
  std::vector<int64_t> prompt64, expected, shape;
  for (Status s : {data->readI64("decode.prompt", prompt64, shape),
                   data->readI64("decode.tokens", expected, shape)})
    if (!s.ok())
      return fail(argv[0], s);
  std::vector<int32_t> prompt(prompt64.begin(), prompt64.end());
  int64_t capacity = step_program.inputs[1].shape[2];
  if (int64_t(prompt.size() + expected.size()) > capacity)
    return fail(argv[0],
                Status::error("the prompt and the decode need {} "
                              "slots, the cache holds {}",
                              prompt.size() + expected.size(), capacity));

  DeviceBuffer arena = allocateDevice(
      size_t(std::max(prefill_program.arenaBytes, step_program.arenaBytes)),
      "the arena");
  Decoder chunked(params->get(), arena.get()),
      stepwise(params->get(), arena.get());
  std::vector<float> logits = chunked.feed(prompt, /*usePrefill=*/true);
  std::vector<float> reference = stepwise.feed(prompt, /*usePrefill=*/false);
  float chunkedDiff = 0;
  for (size_t i = 0; i < logits.size(); ++i)
    chunkedDiff = std::max(chunkedDiff, std::fabs(logits[i] - reference[i]));

  // Greedy: each step's logits pick the next token, which is fed back.
  int64_t steps = expected.size(), vocab = chunked.vocab;
  std::vector<float> stepLogits(steps * vocab); // [steps, V]
  std::vector<int64_t> tokens(steps);
  for (int64_t i = 0; i < steps; ++i) {
    std::copy(logits.begin(), logits.end(), stepLogits.begin() + i * vocab);
    tokens[i] = std::max_element(logits.begin(), logits.end()) - logits.begin();
    logits = chunked.feed({int32_t(tokens[i])}, /*usePrefill=*/false);
  }

  Status s = writeSafetensors(
      args->get("out"),
      {{"step_logits", DType::F32, {steps, vocab}, stepLogits.data()},
       {"tokens", DType::I64, {steps}, tokens.data()},
       {"chunked_prefill_diff", DType::F32, {}, &chunkedDiff}},
      {{"config", step_program.config}});
  return s.ok() ? 0 : fail(argv[0], s);
}
