//===- HostCommon.cpp - pieces every generated program's main shares ------===//

#include "backends/host/HostCommon.h"
#include "backends/host/Device.h"

#include "backends/common/Json.h"
#include "backends/common/Safetensors.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <fmt/core.h>

using namespace gptc;
using namespace gptc::host;

Expected<Args> Args::parse(int argc, char **argv, const std::string &usage,
                           const std::vector<Flag> &flags) {
  Args args;
  for (const Flag &flag : flags)
    if (!flag.defaultValue.empty())
      args.defaults[flag.name] = flag.defaultValue;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}\n\noptions:\n", usage);
      for (const Flag &flag : flags) {
        std::string left = "--" + flag.name + (flag.takesValue ? " <v>" : "");
        std::string defaultValue =
            flag.defaultValue.empty()
                ? ""
                : fmt::format(" (default {})", flag.defaultValue);
        fmt::print("  {:<24} {}{}\n", left, flag.help, defaultValue);
      }
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0)
      return Status::error("unexpected argument '{}'; see --help", arg);
    std::string name = arg.substr(2), value;
    bool inlineValue = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inlineValue = true;
    }
    const Flag *flag = nullptr;
    for (const Flag &candidate : flags)
      if (candidate.name == name)
        flag = &candidate;
    if (!flag)
      return Status::error("unknown option '--{}'; see --help", name);
    if (flag->takesValue && !inlineValue) {
      if (i + 1 >= argc)
        return Status::error("option '--{}' needs a value", name);
      value = argv[++i];
    } else if (!flag->takesValue && inlineValue) {
      return Status::error("option '--{}' takes no value", name);
    }
    args.values[name] = value;
  }
  return args;
}

Status Args::require(std::initializer_list<const char *> names) const {
  for (const char *name : names)
    if (!has(name))
      return Status::error("missing --{}; see --help", name);
  return Status::success();
}

Status Args::readInts(std::initializer_list<IntFlag> flags) const {
  for (const IntFlag &flag : flags) {
    if (!has(flag.name) && get(flag.name).empty())
      continue; // a flag without a default, not given
    Expected<int64_t> value = getInt(flag.name, flag.min, flag.max);
    if (!value.ok())
      return value.status();
    *flag.value = *value;
  }
  return Status::success();
}

std::string Args::get(const std::string &name) const {
  if (auto it = values.find(name); it != values.end())
    return it->second;
  if (auto it = defaults.find(name); it != defaults.end())
    return it->second;
  return "";
}

Expected<int64_t> Args::getInt(const std::string &name, int64_t min,
                               int64_t max) const {
  std::string text = get(name);
  char *end = nullptr;
  errno = 0;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' ||
      std::isspace(static_cast<unsigned char>(text[0])))
    return Status::error("option '--{}' expects an integer, got '{}'", name,
                         text);
  if (errno == ERANGE || value < min || value > max)
    return Status::error("option '--{}' must be in [{}, {}], got {}", name, min,
                         max, text);
  return int64_t(value);
}

Expected<double> Args::getReal(const std::string &name) const {
  std::string text = get(name);
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' ||
      std::isspace(static_cast<unsigned char>(text[0])) ||
      !std::isfinite(value))
    return Status::error("option '--{}' expects a number, got '{}'", name,
                         text);
  return value;
}

AlignedBuffer gptc::host::allocateBuffer(int64_t bytes) {
  size_t rounded = (size_t(bytes) + 63) / 64 * 64;
  void *p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) {
    fmt::print(stderr, "error: cannot allocate {} bytes\n", bytes);
    std::exit(1);
  }
  std::memset(p, 0, rounded);
  return AlignedBuffer(static_cast<char *>(p));
}

Status gptc::host::loadParameters(const ProgramInfo &program,
                                  const std::string &path, char *params) {
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  if (!file.ok())
    return file.status();
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    std::vector<int64_t> shape(param.shape, param.shape + param.rank);
    float *values = view<float>(params, param.offset); // [numel]
    Status status = file->readF32(param.name, shape, values);
    if (!status.ok())
      return Status::error("{} (the program was compiled for this model: {})",
                           status.message(), program.config);
    const float *bad = std::find_if(values, values + param.numel(),
                                    [](float v) { return !std::isfinite(v); });
    if (bad != values + param.numel())
      return Status::error("{}: tensor '{}' holds {} at index {}: the "
                           "parameters must be finite numbers",
                           path, param.name, *bad, bad - values);
  }
  return Status::success();
}

Expected<DeviceBuffer>
gptc::host::loadParametersToDevice(const ProgramInfo &program,
                                   const std::string &path) {
  AlignedBuffer params = allocateBuffer(program.paramBytes);
  if (Status status = loadParameters(program, path, params.get()); !status.ok())
    return status;
  return uploadToDevice(params.get(), size_t(program.paramBytes),
                        "the parameters");
}

Expected<int64_t> gptc::host::configInt(const ProgramInfo &program,
                                        const std::string &key) {
  Expected<Json> config = parseJson(program.config, "the program's config");
  if (!config.ok())
    return config.status();
  const Json *value = config->find(key);
  if (!value || !value->getInteger())
    return Status::error("the program's config has no integer '{}'", key);
  return *value->getInteger();
}

std::vector<int64_t> gptc::host::shapeOf(const BufferInfo &info) {
  return std::vector<int64_t>(info.shape, info.shape + info.rank);
}

/// Reads `info.name` ([B, T] integers) from `file` into int32 values in
/// [lo, hi).
static Status readTokens(const SafetensorsFile &file, const BufferInfo &info,
                         int64_t lo, int64_t hi, std::vector<int32_t> &out) {
  std::vector<int64_t> values, shape;
  if (Status status = file.readI64(info.name, values, shape); !status.ok())
    return status;
  if (shape != shapeOf(info))
    return Status::error("{}: tensor '{}' has shape {}, but the program was "
                         "compiled for {}; recompile with --batch/--seq",
                         file.getPath(), info.name, formatShape(shape),
                         formatShape(shapeOf(info)));
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

Status gptc::host::loadBatch(const ProgramInfo &program,
                             const std::string &path,
                             std::vector<int32_t> &tokens,
                             std::vector<int32_t> &targets) {
  Expected<int64_t> vocab = configInt(program, "vocab_size");
  if (!vocab.ok())
    return vocab.status();
  Expected<SafetensorsFile> data = SafetensorsFile::open(path);
  if (!data.ok())
    return data.status();
  if (Status s = readTokens(*data, program.inputs[0], 0, *vocab, tokens);
      !s.ok())
    return s;
  return readTokens(*data, program.inputs[1], -1, *vocab, targets);
}

Expected<std::vector<int32_t>> gptc::host::byteTokens(const std::string &bytes,
                                                      const std::string &source,
                                                      int64_t vocab) {
  std::vector<int32_t> tokens(bytes.size()); // [N]
  for (size_t i = 0; i < bytes.size(); ++i) {
    int32_t token = static_cast<unsigned char>(bytes[i]);
    if (token >= vocab)
      return Status::error("{}: byte {} at offset {} is not a token of the "
                           "model: the byte-level tokenizer needs every byte "
                           "below vocab_size {}",
                           source, token, i, vocab);
    tokens[i] = token;
  }
  return tokens;
}

int gptc::host::fail(const char *program, const Status &status) {
  fmt::print(stderr, "{}: error: {}\n", program, status.message());
  return 1;
}

Expected<Args> gptc::host::parseArgsAndStartDevice(
    int argc, char **argv, const std::string &usage,
    const std::vector<Flag> &flags,
    std::initializer_list<const char *> required) {
  Expected<Args> args = Args::parse(argc, argv, usage, flags);
  if (!args.ok())
    return args.status();
  if (Status s = args->require(required); !s.ok())
    return s;
  if (Status s = initDevice(); !s.ok())
    return s;
  return args;
}
