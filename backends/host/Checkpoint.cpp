//===- Checkpoint.cpp - training checkpoints and model files --------------===//

#include "backends/host/Checkpoint.h"

#include "backends/common/FileUtil.h"
#include "backends/common/Json.h"
#include "backends/common/Safetensors.h"
#include "backends/host/HostCommon.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <unistd.h>

using namespace gptc;
using namespace gptc::host;

namespace {

/// Metadata keys that are not flags.
constexpr const char *kFormatKey = "format";
constexpr const char *kConfigKey = "config";
constexpr const char *kStepKey = "step";
constexpr const char *kRngKey = "rng";

/// Every parameter as a tensor viewing `params`.
std::vector<TensorRef> parameterTensors(const ProgramInfo &program,
                                        const char *params) {
  std::vector<TensorRef> tensors;
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    tensors.push_back(
        {param.name, DType::F32, shapeOf(param), params + param.offset});
  }
  return tensors;
}

/// The unsigned decimal metadata value `key` of `file`.
Expected<uint64_t> readNumber(const SafetensorsFile &file,
                              const std::string &key) {
  const std::string *text = file.findMetadata(key);
  if (!text)
    return Status::error("{}: not a gptc training checkpoint: no '{}' in its "
                         "metadata",
                         file.getPath(), key);
  char *end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || errno != 0 || (*text)[0] == '-')
    return Status::error("{}: metadata '{}' is {}, expected an unsigned "
                         "integer",
                         file.getPath(), key, quoteForMessage(*text));
  return uint64_t(value);
}

} // namespace

Status gptc::host::prepareOutputFolder(const std::string &dir,
                                       bool replaceRun) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error)
    return Status::error("cannot create the output folder '{}': {}", dir,
                         error.message());
  if (!replaceRun)
    for (const char *file : kRunFiles)
      if (::access((dir + "/" + file).c_str(), F_OK) == 0)
        return Status::error("the output folder '{}' holds a run ({}); "
                             "continue it with --resume {}, choose another "
                             "--out, or pass --overwrite to replace it",
                             dir, file, dir);
  for (const std::string &name : removeStaleTemporaries(dir))
    fmt::print("removed {}/{}, left by a save that was killed\n", dir, name);
  // Write (atomically, like every file of a run) and remove a probe file.
  std::string probe = dir + "/.gptc-write-test";
  if (Status status = writeFileAtomically(probe, {}); !status.ok())
    return Status::error("the output folder '{}' is not writable: {}", dir,
                         status.message());
  ::unlink(probe.c_str());
  return Status::success();
}

Status gptc::host::saveCheckpoint(const std::string &path,
                                  const ProgramInfo &program,
                                  const char *params,
                                  const Optimizer &optimizer,
                                  const CheckpointState &state) {
  std::vector<TensorRef> tensors = parameterTensors(program, params);
  std::vector<float> optimizerState = optimizer.downloadState();
  for (TensorRef &tensor : optimizer.stateTensors(optimizerState))
    tensors.push_back(std::move(tensor));
  std::map<std::string, std::string> metadata = state.flags;
  metadata[kFormatKey] = kCheckpointFormat;
  metadata[kConfigKey] = program.config;
  metadata[kStepKey] = std::to_string(state.step);
  metadata[kRngKey] = std::to_string(state.rngState);
  return writeSafetensors(path, tensors, metadata);
}

Status gptc::host::saveModel(const std::string &path,
                             const ProgramInfo &program, const char *params,
                             int64_t step) {
  return writeSafetensors(
      path, parameterTensors(program, params),
      {{kConfigKey, program.config}, {kStepKey, std::to_string(step)}});
}

Expected<CheckpointState>
gptc::host::readCheckpointState(const std::string &path,
                                const ProgramInfo &program) {
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  if (!file.ok())
    return file.status();
  const std::string *format = file->findMetadata(kFormatKey);
  if (!format || *format != kCheckpointFormat)
    return Status::error("{}: not a gptc training checkpoint: its metadata "
                         "'{}' is {}, expected '{}'",
                         path, kFormatKey,
                         format ? quoteForMessage(*format) : "missing",
                         kCheckpointFormat);
  // Compare configs as JSON values, so that formatting does not matter.
  const std::string *config = file->findMetadata(kConfigKey);
  Expected<Json> expected = parseJson(program.config, "the program's config");
  Expected<Json> stored = parseJson(config ? *config : "", path + " config");
  if (!expected.ok())
    return expected.status();
  if (!stored.ok() || *stored != *expected)
    return Status::error("checkpoint {} was written for model {}, this "
                         "program is compiled for {}",
                         path, config ? *config : "(no config)",
                         program.config);

  CheckpointState state;
  Expected<uint64_t> step = readNumber(*file, kStepKey);
  if (!step.ok())
    return step.status();
  Expected<uint64_t> rng = readNumber(*file, kRngKey);
  if (!rng.ok())
    return rng.status();
  state.step = int64_t(*step);
  state.rngState = *rng;
  for (const auto &[key, value] : file->getMetadata())
    if (key != kFormatKey && key != kConfigKey && key != kStepKey &&
        key != kRngKey)
      state.flags[key] = value;
  return state;
}

Status gptc::host::loadCheckpoint(const std::string &path,
                                  const ProgramInfo &program, char *params,
                                  Optimizer &optimizer) {
  {
    Expected<SafetensorsFile> file = SafetensorsFile::open(path);
    if (!file.ok())
      return file.status();
    if (Status status = optimizer.loadState(*file); !status.ok())
      return status;
  }
  // The file is read a second time rather than held: checkpoints are three
  // times the size of the parameters.
  return loadParameters(program, path, params);
}
