//===- ForwardMain.cpp - main() of a compiled forward-pass program --------===//
//
// Runs the generated `forward(params, tokens, targets, logits, loss, arena)`
// once: loads the weights, reads a batch of tokens and targets, prints the
// loss and optionally writes the logits.
//
//===----------------------------------------------------------------------===//

#include "backends/common/Safetensors.h"
#include "backends/host/HostCommon.h"

#include <chrono>
#include <cstdio>

using namespace gptc;
using namespace gptc::host;

// Defined by the generated code.
extern const ProgramInfo forward_program;
void forward(char *params, int32_t *tokens, int32_t *targets, float *logits,
             float *loss, char *arena);

/// Reads `name` ([B, T] integers) from `file` into int32 values in [lo, hi).
static Status readTokens(const SafetensorsFile &file, const BufferInfo &info,
                         int64_t lo, int64_t hi, std::vector<int32_t> &out) {
  std::vector<int64_t> values, shape;
  if (Status status = file.readI64(info.name, values, shape); !status.ok())
    return status;
  std::vector<int64_t> expected(info.shape, info.shape + info.rank);
  if (shape != expected)
    return Status::error("{}: tensor '{}' has shape {}, but the program was "
                         "compiled for {}; recompile with --batch/--seq",
                         file.getPath(), info.name, formatShape(shape),
                         formatShape(expected));
  out.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < lo || values[i] >= hi)
      return Status::error("{}: tensor '{}' holds {} at index {}, outside "
                           "[{}, {})",
                           file.getPath(), info.name, values[i], i, lo, hi);
    out[i] = int32_t(values[i]);
  }
  return Status::success();
}

int main(int argc, char **argv) {
  const ProgramInfo &program = forward_program;
  Expected<Args> args = Args::parse(
      argc, argv,
      std::string("usage: ") + argv[0] +
          " --weights W.safetensors --data D.safetensors [--out O.safetensors]"
          "\n\nRuns the compiled forward pass of the model\n  " +
          program.config +
          "\non the batch in D (integer tensors 'tokens' and 'targets', "
          "target -1 = ignored)\nand prints the mean cross-entropy loss.",
      {{"weights", "safetensors file with every parameter"},
       {"data", "safetensors file with 'tokens' and 'targets'"},
       {"out", "write 'logits' and 'loss' to this safetensors file"}});
  if (!args.ok())
    return fail(argv[0], args.status());
  for (const char *required : {"weights", "data"})
    if (!args->has(required))
      return fail(argv[0], Status::error("missing --{}; see --help", required));

  AlignedBuffer params = allocateBuffer(program.paramBytes);
  if (Status s = loadParameters(program, args->get("weights"), params.get());
      !s.ok())
    return fail(argv[0], s);

  // inputs: tokens [B, T], targets [B, T]; outputs: logits [B, T, V], loss.
  const BufferInfo &tokensInfo = program.inputs[0];
  const BufferInfo &logitsInfo = program.outputs[0];
  int64_t vocab = logitsInfo.shape[logitsInfo.rank - 1];
  Expected<SafetensorsFile> data = SafetensorsFile::open(args->get("data"));
  if (!data.ok())
    return fail(argv[0], data.status());
  std::vector<int32_t> tokens, targets;
  if (Status s = readTokens(*data, tokensInfo, 0, vocab, tokens); !s.ok())
    return fail(argv[0], s);
  if (Status s = readTokens(*data, program.inputs[1], -1, vocab, targets);
      !s.ok())
    return fail(argv[0], s);

  std::vector<float> logits(logitsInfo.numel()); // [B, T, V]
  float loss = 0.0f;
  AlignedBuffer arena = allocateBuffer(program.arenaBytes);
  auto start = std::chrono::steady_clock::now();
  forward(params.get(), tokens.data(), targets.data(), logits.data(), &loss,
          arena.get());
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  std::printf("loss %.7f  (%zu tokens in %.2f ms, %.0f tokens/s)\n", loss,
              tokens.size(), seconds * 1e3, tokens.size() / seconds);

  if (args->has("out")) {
    std::vector<int64_t> logitsShape(logitsInfo.shape,
                                     logitsInfo.shape + logitsInfo.rank);
    Status s = writeSafetensors(
        args->get("out"),
        {{"logits", DType::F32, logitsShape, logits.data()},
         {"loss", DType::F32, {}, &loss}},
        {{"config", program.config}});
    if (!s.ok())
      return fail(argv[0], s);
  }
  return 0;
}
