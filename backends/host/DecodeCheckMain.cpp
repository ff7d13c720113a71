//===- DecodeCheckMain.cpp - main() of a decode-check program -------------===//
//
// Reads a reference bundle's decode prompt, runs runDecodeCheck (one row)
// and writes what `gptc verify` compares.
//
//===----------------------------------------------------------------------===//

#include "backends/common/Safetensors.h"
#include "backends/host/DecodeCheck.h"
#include "backends/host/GeneratedPrograms.h"
#include "backends/host/HostCommon.h"

using namespace gptc;
using namespace gptc::host;

namespace {

Status runCheckProgram(int argc, char **argv) {
  Expected<DecodeShape> shape = readDecodeShape();
  if (!shape.ok())
    return shape.status();
  Expected<Args> args = parseArgsAndStartDevice(
      argc, argv,
      fmt::format("usage: {} --weights W.safetensors --data D.safetensors "
                  "--out O.safetensors\n\nDecodes the bundle's "
                  "'decode.prompt' greedily for as many steps as "
                  "'decode.tokens'\nholds and writes 'step_logits', 'tokens' "
                  "and 'chunked_prefill_diff'.",
                  argv[0]),
      {{"weights", "safetensors file with every parameter"},
       {"data", "reference bundle with 'decode.prompt' and 'decode.tokens'"},
       {"out", "where to write the results"}},
      {"weights", "data", "out"});
  if (!args.ok())
    return args.status();

  Expected<DeviceBuffer> params =
      loadParametersToDevice(step_program, args->get("weights"));
  if (!params.ok())
    return params.status();
  Expected<SafetensorsFile> data = SafetensorsFile::open(args->get("data"));
  if (!data.ok())
    return data.status();
  std::vector<int64_t> prompt64, expected, tensorShape;
  for (Status s : {data->readI64("decode.prompt", prompt64, tensorShape),
                   data->readI64("decode.tokens", expected, tensorShape)})
    if (!s.ok())
      return s;
  if (prompt64.empty())
    return Status::error("{}: 'decode.prompt' is empty", args->get("data"));
  for (int64_t token : prompt64)
    if (token < 0 || token >= shape->V)
      return Status::error("{}: 'decode.prompt' holds token {}, outside the "
                           "model's vocabulary of {}",
                           args->get("data"), token, shape->V);
  std::vector<int32_t> prompt(prompt64.begin(), prompt64.end());

  Decoder decoder(*shape, /*rows=*/1, std::move(*params));
  const int64_t steps = int64_t(expected.size());
  Expected<DecodeCheck> check = runDecodeCheck(decoder, prompt, steps);
  if (!check.ok())
    return check.status();
  return writeSafetensors(
      args->get("out"),
      {{"step_logits", DType::F32, {steps, shape->V}, check->stepLogits.data()},
       {"tokens", DType::I64, {steps}, check->tokens.data()},
       {"chunked_prefill_diff", DType::F32, {}, &check->chunkedPrefillDiff}},
      {{"config", step_program.config}});
}

} // namespace

int main(int argc, char **argv) {
  Status status = runCheckProgram(argc, argv);
  return status.ok() ? 0 : fail(argv[0], status);
}
