//===- GradCheckMain.cpp - main() of a gradient-check program -------------===//
//
// Runs a training module's `forward` and `train_step` once on one batch and
// writes the logits, the loss and every parameter's gradient, for
// `gptc verify` to compare with a reference bundle.
//
//===----------------------------------------------------------------------===//

#include "backends/common/Safetensors.h"
#include "backends/host/GeneratedPrograms.h"
#include "backends/host/HostCommon.h"

#include <algorithm>
#include <cstdio>

using namespace gptc;
using namespace gptc::host;

int main(int argc, char **argv) {
  Expected<Args> args = Args::parse(
      argc, argv,
      std::string("usage: ") + argv[0] +
          " --weights W.safetensors --data D.safetensors --out O.safetensors"
          "\n\nRuns the compiled forward pass and training step once and "
          "writes 'logits', 'loss',\n'step_loss' and 'grad.<parameter>' "
          "for every parameter.",
      {{"weights", "safetensors file with every parameter"},
       {"data", "safetensors file with 'tokens' and 'targets'"},
       {"out", "where to write the results"}});
  if (!args.ok())
    return fail(argv[0], args.status());
  if (Status s = args->require({"weights", "data", "out"}); !s.ok())
    return fail(argv[0], s);

  const ProgramInfo &program = train_step_program;
  AlignedBuffer params = allocateBuffer(program.paramBytes);
  if (Status s = loadParameters(program, args->get("weights"), params.get());
      !s.ok())
    return fail(argv[0], s);
  std::vector<int32_t> tokens, targets;
  if (Status s = loadBatch(program, args->get("data"), tokens, targets);
      !s.ok())
    return fail(argv[0], s);

  const BufferInfo &logitsInfo = forward_program.outputs[0];
  std::vector<float> logits(logitsInfo.numel()); // [B, T, V]
  float loss = 0.0f, stepLoss = 0.0f;
  AlignedBuffer arena = allocateBuffer(
      std::max(forward_program.arenaBytes, train_step_program.arenaBytes));
  AlignedBuffer grads = allocateBuffer(program.paramBytes);
  forward(params.get(), tokens.data(), targets.data(), logits.data(), &loss,
          arena.get());
  train_step(params.get(), tokens.data(), targets.data(), &stepLoss,
             grads.get(), arena.get());

  std::vector<std::string> names;
  std::vector<TensorRef> tensors = {
      {"logits", DType::F32, shapeOf(logitsInfo), logits.data()},
      {"loss", DType::F32, {}, &loss},
      {"step_loss", DType::F32, {}, &stepLoss}};
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    tensors.push_back({std::string("grad.") + param.name, DType::F32,
                       shapeOf(param), view<float>(grads.get(), param.offset)});
  }
  Status s =
      writeSafetensors(args->get("out"), tensors, {{"config", program.config}});
  return s.ok() ? 0 : fail(argv[0], s);
}
