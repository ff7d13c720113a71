//===- GradCheckMain.cpp - main() of a gradient-check program -------------===//
//
// Runs a training module's `forward` and `train_step` once on one batch and
// writes the logits, the loss and every parameter's gradient, for
// `gptc verify` to compare with a reference bundle.
//
//===----------------------------------------------------------------------===//

#include "backends/common/Program.h"
#include "backends/common/Safetensors.h"
#include "backends/host/GeneratedPrograms.h"
#include "backends/host/HostCommon.h"

#include <algorithm>
#include <cstdio>

using namespace gptc;
using namespace gptc::host;

int main(int argc, char **argv) {
  Expected<Args> args = parseArgsAndStartDevice(
      argc, argv,
      std::string("usage: ") + argv[0] +
          " --weights W.safetensors --data D.safetensors --out O.safetensors"
          "\n\nRuns the compiled forward pass and training step once and "
          "writes 'logits', 'loss',\n'step_loss' and 'grad.<parameter>' "
          "for every parameter.",
      {{"weights", "safetensors file with every parameter"},
       {"data", "safetensors file with 'tokens' and 'targets'"},
       {"out", "where to write the results"}},
      {"weights", "data", "out"});
  if (!args.ok())
    return fail(argv[0], args.status());

  const ProgramInfo &program = train_step_program;
  Expected<DeviceBuffer> params =
      loadParametersToDevice(program, args->get("weights"));
  if (!params.ok())
    return fail(argv[0], params.status());
  std::vector<int32_t> tokens, targets;
  if (Status s = loadBatch(program, args->get("data"), tokens, targets);
      !s.ok())
    return fail(argv[0], s);

  const BufferInfo &logitsInfo = forward_program.outputs[0];
  const size_t batchBytes = sizeof(int32_t) * tokens.size();
  const size_t logitsBytes = sizeof(float) * size_t(logitsInfo.numel());
  DeviceBuffer deviceTokens =
      uploadToDevice(tokens.data(), batchBytes, "the tokens");
  DeviceBuffer deviceTargets =
      uploadToDevice(targets.data(), batchBytes, "the targets");
  DeviceBuffer deviceLogits = allocateDevice(logitsBytes, "the logits");
  // [2]: forward's loss, then train_step's.
  DeviceBuffer deviceLosses = allocateDevice(2 * sizeof(float), "the losses");
  DeviceBuffer arena =
      allocateDevice(size_t(std::max(forward_program.arenaBytes,
                                     train_step_program.arenaBytes)),
                     "the arena");
  DeviceBuffer deviceGrads =
      allocateDevice(size_t(program.paramBytes), "the gradients");
  forward(params->get(), deviceTokens.as<int32_t>(),
          deviceTargets.as<int32_t>(), deviceLogits.as<float>(),
          deviceLosses.as<float>(), arena.get());
  train_step(params->get(), deviceTokens.as<int32_t>(),
             deviceTargets.as<int32_t>(), deviceLosses.as<float>() + 1,
             deviceGrads.get(), arena.get());

  std::vector<float> logits(logitsInfo.numel()); // [B, T, V]
  float losses[2];                               // forward's, train_step's
  AlignedBuffer grads = allocateBuffer(program.paramBytes);
  copyToHost(logits.data(), deviceLogits.get(), logitsBytes);
  copyToHost(losses, deviceLosses.get(), sizeof(losses));
  copyToHost(grads.get(), deviceGrads.get(), size_t(program.paramBytes));

  std::vector<std::string> names;
  std::vector<TensorRef> tensors = {
      {checks::kLogits, DType::F32, shapeOf(logitsInfo), logits.data()},
      {checks::kLoss, DType::F32, {}, &losses[0]},
      {checks::kStepLoss, DType::F32, {}, &losses[1]}};
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    tensors.push_back({std::string(checks::kGradPrefix) + param.name, DType::F32,
                       shapeOf(param), view<float>(grads.get(), param.offset)});
  }
  Status s =
      writeSafetensors(args->get("out"), tensors, {{"config", program.config}});
  return s.ok() ? 0 : fail(argv[0], s);
}
