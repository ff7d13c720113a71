//===- ForwardMain.cpp - main() of a compiled forward-pass program --------===//
//
// Runs the generated `forward(params, tokens, targets, logits, loss, arena)`
// once: loads the weights, reads a batch of tokens and targets, prints the
// loss and optionally writes the logits.
//
//===----------------------------------------------------------------------===//

#include "backends/common/FileUtil.h"
#include "backends/common/Program.h"
#include "backends/common/Safetensors.h"
#include "backends/host/GeneratedPrograms.h"
#include "backends/host/HostCommon.h"

#include <algorithm>
#include <cstdio>

#include <fmt/core.h>

using namespace gptc;
using namespace gptc::host;

int main(int argc, char **argv) {
  const ProgramInfo &program = forward_program;
  Expected<Args> args = parseArgsAndStartDevice(
      argc, argv,
      std::string("usage: ") + argv[0] +
          " --weights W.safetensors --data D.safetensors [--out O.safetensors]"
          "\n\nRuns the compiled forward pass of the model\n  " +
          program.config +
          "\non the batch in D (integer tensors 'tokens' and 'targets', "
          "target -1 = ignored)\nand prints the mean cross-entropy loss.",
      {{"weights", "safetensors file with every parameter"},
       {"data", "safetensors file with 'tokens' and 'targets'"},
       {"out", "write 'logits' and 'loss' (absent when every target is -1) "
               "to this safetensors file"},
       {"repeat",
        "run the forward pass this many times and report the "
        "fastest (a benchmark)",
        true, "1"}},
      {"weights", "data"});
  if (!args.ok())
    return fail(argv[0], args.status());
  // The logits must not land on an input.
  if (args->has("out"))
    for (const char *input : {"weights", "data"})
      if (Status s =
              checkOutputFile(args->get("out"), args->get(input), "--out");
          !s.ok())
        return fail(argv[0], s);

  Expected<DeviceBuffer> params =
      loadParametersToDevice(program, args->get("weights"));
  if (!params.ok())
    return fail(argv[0], params.status());

  // inputs: tokens [B, T], targets [B, T]; outputs: logits [B, T, V], loss.
  const BufferInfo &logitsInfo = program.outputs[0];
  std::vector<int32_t> tokens, targets;
  if (Status s = loadBatch(program, args->get("data"), tokens, targets);
      !s.ok())
    return fail(argv[0], s);
  // With every target ignored (-1) there is no loss, only logits.
  const bool hasLoss = std::any_of(targets.begin(), targets.end(),
                                   [](int32_t target) { return target != -1; });

  Expected<int64_t> repeat = args->getInt("repeat", 1, 1000000);
  if (!repeat.ok())
    return fail(argv[0], repeat.status());
  const size_t batchBytes = sizeof(int32_t) * tokens.size();
  const size_t logitsBytes = sizeof(float) * size_t(logitsInfo.numel());
  DeviceBuffer deviceTokens =
      uploadToDevice(tokens.data(), batchBytes, "the tokens");
  DeviceBuffer deviceTargets =
      uploadToDevice(targets.data(), batchBytes, "the targets");
  DeviceBuffer deviceLogits = allocateDevice(logitsBytes, "the logits");
  DeviceBuffer deviceLoss = allocateDevice(sizeof(float), "the loss");
  DeviceBuffer arena = allocateDevice(size_t(program.arenaBytes), "the arena");
  float loss = 0.0f;
  double fastest = 0;
  for (int64_t run = 0; run < *repeat; ++run) {
    Stopwatch stopwatch;
    forward(params->get(), deviceTokens.as<int32_t>(),
            deviceTargets.as<int32_t>(), deviceLogits.as<float>(),
            deviceLoss.as<float>(), arena.get());
    // Reading the loss waits for the device to finish.
    copyToHost(&loss, deviceLoss.get(), sizeof(float));
    double seconds = stopwatch.seconds();
    fastest = run == 0 ? seconds : std::min(fastest, seconds);
  }
  std::string lossText = hasLoss ? fmt::format("loss {:.7f}", loss)
                                 : "no loss (every target is -1)";
  fmt::print("{}  ({} tokens in {:.2f} ms, {:.0f} tokens/s)\n", lossText,
             tokens.size(), fastest * 1e3, tokens.size() / fastest);

  if (args->has("out")) {
    std::vector<float> logits(logitsInfo.numel()); // [B, T, V]
    copyToHost(logits.data(), deviceLogits.get(), logitsBytes);
    std::vector<TensorRef> outputs = {
        {buffers::kLogits, DType::F32, shapeOf(logitsInfo), logits.data()}};
    if (hasLoss)
      outputs.push_back({buffers::kLoss, DType::F32, {}, &loss});
    Status s = writeSafetensors(args->get("out"), outputs,
                                {{"config", program.config}});
    if (!s.ok())
      return fail(argv[0], s);
  }
  return 0;
}
