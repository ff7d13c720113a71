//===- Nanochat.cpp - `gptc import-nanochat` and `gptc export-nanochat` ---===//
//
// Moves models between nanochat's checkpoint directories
// (model_<step:06d>.pt written by torch.save + meta_<step:06d>.json) and
// gptc's model folders (model.toml + model.safetensors). Tensors keep their
// names and dtypes; import then export then import is bitwise.
//
//===----------------------------------------------------------------------===//

#include "compiler/gptc/Nanochat.h"

#include "backends/common/FileUtil.h"
#include "backends/common/Json.h"
#include "backends/common/Safetensors.h"
#include "backends/common/TorchZip.h"
#include "frontend/GraphBuilder.h"
#include "frontend/ModelConfig.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <filesystem>
#include <map>
#include <optional>
#include <set>

using namespace gptc;
namespace cl = llvm::cl;
namespace fs = std::filesystem;

namespace {

cl::SubCommand importCommand(
    "import-nanochat",
    "Convert a nanochat checkpoint directory (model_<step>.pt, "
    "meta_<step>.json) into <out>/model.toml and <out>/model.safetensors");
cl::SubCommand exportCommand(
    "export-nanochat",
    "Write a gptc model (a model folder, a training run folder or a "
    ".safetensors file) as nanochat's model_<step>.pt and meta_<step>.json");

cl::opt<std::string> importInput(cl::Positional, cl::Required,
                                 cl::desc("<checkpoint dir | model_<step>.pt>"),
                                 cl::sub(importCommand));
cl::opt<std::string> importOutput("o", cl::Required,
                                  cl::desc("Output folder for model.toml and "
                                           "model.safetensors"),
                                  cl::value_desc("dir"),
                                  cl::sub(importCommand));
cl::opt<int64_t> importStep("step",
                            cl::desc("The step to import (default: the "
                                     "latest model_<step>.pt)"),
                            cl::init(-1), cl::sub(importCommand));
cl::opt<bool> importForce("force",
                          cl::desc("Replace model.toml and model.safetensors "
                                   "already in the output folder"),
                          cl::init(false), cl::sub(importCommand));

cl::opt<std::string>
    exportInput(cl::Positional, cl::Required,
                cl::desc("<model folder | run folder | weights.safetensors>"),
                cl::sub(exportCommand));
cl::opt<std::string> exportOutput("o", cl::Required,
                                  cl::desc("Output checkpoint folder"),
                                  cl::value_desc("dir"),
                                  cl::sub(exportCommand));
cl::opt<int64_t> exportStep("step",
                            cl::desc("The step number of the files (default: "
                                     "the step the weights record, else 0)"),
                            cl::init(-1), cl::sub(exportCommand));
cl::opt<bool> exportForce("force",
                          cl::desc("Replace model_<step>.pt and "
                                   "meta_<step>.json already in the folder"),
                          cl::init(false), cl::sub(exportCommand));

constexpr std::string_view kCompiledPrefix = "_orig_mod.";
/// meta.json's model_config fields of nanochat's classic GPTConfig.
constexpr const char *kConfigFields[] = {
    "sequence_len", "vocab_size", "n_layer", "n_head", "n_kv_head", "n_embd"};
/// Metadata keys of the model.safetensors gptc writes.
constexpr const char *kConfigKey = "config";
constexpr const char *kStepKey = "step";

/// `value` as a TOML float ("15.0", "1.5e-07").
std::string tomlFloat(double value) {
  std::string text = fmt::format("{:.17g}", value);
  if (text.find_first_of(".eni") == std::string::npos)
    text += ".0";
  return text;
}

/// The model.toml text of `config`.
std::string configToToml(const GPTConfig &config, std::string_view comment) {
  return fmt::format("# {}\n"
                     "[model]\n"
                     "n_layer = {}\n"
                     "n_head = {}\n"
                     "n_kv_head = {}\n"
                     "n_embd = {}\n"
                     "vocab_size = {}\n"
                     "sequence_len = {}\n"
                     "softcap = {}\n"
                     "rope_base = {}\n"
                     "rope_bf16 = {}\n"
                     "qk_scale = {}\n",
                     comment, config.nLayer, config.nHead, config.nKvHead,
                     config.nEmbd, config.vocabSize, config.sequenceLen,
                     tomlFloat(config.softcap), tomlFloat(config.ropeBase),
                     config.ropeBf16 ? "true" : "false",
                     tomlFloat(config.qkScale));
}

/// Validates `config` as gptc does a model.toml; errors start with `what`.
Expected<GPTConfig> validateConfig(const GPTConfig &config,
                                   const std::string &tomlPath,
                                   std::string_view what) {
  llvm::Expected<GPTConfig> parsed =
      parseModelTomlString(configToToml(config, ""), tomlPath);
  if (!parsed) {
    std::string message = llvm::toString(parsed.takeError());
    // "<path>:<line>:<col>: error: <message>" -> "<message>"
    size_t at = message.find("error: ");
    return Status::error("{}: {}", what,
                         at == std::string::npos ? message
                                                 : message.substr(at + 7));
  }
  return *parsed;
}

/// "model_000123.pt" -> 123.
std::optional<int64_t> stepOfModelFile(const std::string &name) {
  constexpr std::string_view prefix = "model_", suffix = ".pt";
  if (name.size() <= prefix.size() + suffix.size() ||
      name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  std::string digits =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 15 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(digits);
}

std::string stepName(int64_t step) { return fmt::format("{:06d}", step); }

struct CheckpointFiles {
  std::string model, meta;
  int64_t step = 0;
};

/// The model and meta files of `input` (a directory or a model_<step>.pt).
Expected<CheckpointFiles> findCheckpoint(const std::string &input,
                                         int64_t step) {
  std::error_code ec;
  if (fs::is_regular_file(input, ec)) {
    fs::path path(input);
    std::optional<int64_t> fileStep = stepOfModelFile(path.filename());
    if (!fileStep)
      return Status::error("{}: not a nanochat model file (expected "
                           "model_<step>.pt)",
                           input);
    std::string digits = path.filename().string().substr(6);
    digits.resize(digits.size() - 3);
    return CheckpointFiles{
        input, (path.parent_path() / ("meta_" + digits + ".json")).string(),
        *fileStep};
  }
  if (!fs::is_directory(input, ec))
    return Status::error("{}: no such checkpoint directory or file", input);
  std::map<int64_t, std::string> models;
  for (const fs::directory_entry &entry : fs::directory_iterator(input, ec))
    if (std::optional<int64_t> s = stepOfModelFile(entry.path().filename()))
      models[*s] = entry.path().filename().string();
  if (ec)
    return Status::error("{}: cannot list: {}", input, ec.message());
  if (models.empty())
    return Status::error("{}: no model_<step>.pt in this directory (a "
                         "nanochat base_checkpoints/<tag> folder has them)",
                         input);
  auto it = step < 0 ? std::prev(models.end()) : models.find(step);
  if (it == models.end()) {
    std::string steps;
    for (const auto &[s, name] : models)
      steps += (steps.empty() ? "" : ", ") + std::to_string(s);
    return Status::error("{}: no model file for --step {} (steps here: {})",
                         input, step, steps);
  }
  std::string digits = it->second.substr(6, it->second.size() - 9);
  return CheckpointFiles{
      (fs::path(input) / it->second).string(),
      (fs::path(input) / ("meta_" + digits + ".json")).string(), it->first};
}

/// The classic GPTConfig in meta.json's model_config, patched as nanochat
/// patches older runs (a missing window_pattern means "L": full context).
Expected<GPTConfig> readMetaConfig(const std::string &metaPath) {
  Expected<std::string> text = readFile(metaPath);
  if (!text.ok())
    return text.status();
  Expected<Json> meta = parseJson(*text, metaPath);
  if (!meta.ok())
    return meta.status();
  const Json *config = meta->isObject() ? meta->find("model_config") : nullptr;
  if (!config || !config->isObject())
    return Status::error("{}: no 'model_config' object", metaPath);
  GPTConfig result;
  int64_t *targets[] = {&result.sequenceLen, &result.vocabSize, &result.nLayer,
                        &result.nHead,       &result.nKvHead,   &result.nEmbd};
  std::set<std::string> known(std::begin(kConfigFields),
                              std::end(kConfigFields));
  for (const auto &[key, value] : config->getObject()) {
    if (key == "window_pattern") {
      if (!value.isString() || value.getString().empty() ||
          value.getString().find_first_not_of('L') != std::string::npos)
        return Status::error(
            "{}: model_config field 'window_pattern' is {}: sliding-window "
            "attention is not supported yet (only \"L\", full context)",
            metaPath, value.serialize());
      continue;
    }
    if (!known.count(key))
      return Status::error("{}: model_config field '{}' is not part of the "
                           "classic nanochat model gptc implements",
                           metaPath, key);
  }
  for (size_t i = 0; i < std::size(kConfigFields); ++i) {
    const Json *value = config->find(kConfigFields[i]);
    std::optional<int64_t> n =
        value && value->isNumber() ? value->getInteger() : std::nullopt;
    if (!n)
      return Status::error("{}: model_config field '{}' is missing or not an "
                           "integer",
                           metaPath, kConfigFields[i]);
    *targets[i] = *n;
  }
  // The classic model's fixed choices: soft-cap 15, RoPE base 10000 with
  // its tables rounded to bf16, no extra QK scale.
  result.ropeBf16 = true;
  return result;
}

/// A tensor name of nanochat's current model that gptc does not implement
/// yet, and the feature it belongs to; empty if it is not one.
std::string_view currentFeature(std::string_view name) {
  auto starts = [&](std::string_view p) {
    return name.substr(0, p.size()) == p;
  };
  auto ends = [&](std::string_view s) {
    return name.size() >= s.size() && name.substr(name.size() - s.size()) == s;
  };
  if (starts("value_embeds.") || ends(".attn.ve_gate.weight"))
    return "value embeddings";
  if (name == "resid_lambdas" || name == "x0_lambdas")
    return "per-layer residual lambdas";
  if (starts("smear_"))
    return "smear";
  if (name == "backout_lambda")
    return "backout";
  return {};
}

int fail(std::string_view command, const Status &status) {
  llvm::errs() << "gptc " << command << ": error: " << status.message() << "\n";
  return 1;
}

/// Creates `dir`; refuses to replace `files` in it unless `force`.
Status prepareOutput(const std::string &dir,
                     const std::vector<std::string> &files, bool force) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return Status::error("cannot create the output folder '{}': {}", dir,
                         ec.message());
  if (!force)
    for (const std::string &file : files)
      if (fs::exists(fs::path(dir) / file, ec))
        return Status::error("{} already exists; pass --force to replace it",
                             (fs::path(dir) / file).string());
  return Status::success();
}

int runImport() {
  constexpr std::string_view command = "import-nanochat";
  Expected<CheckpointFiles> files = findCheckpoint(importInput, importStep);
  if (!files.ok())
    return fail(command, files.status());
  Expected<GPTConfig> metaConfig = readMetaConfig(files->meta);
  if (!metaConfig.ok())
    return fail(command, metaConfig.status());
  std::string tomlPath = (fs::path(importOutput.getValue()) / "model.toml");
  Expected<GPTConfig> config =
      validateConfig(*metaConfig, tomlPath, files->meta + ": model_config");
  if (!config.ok())
    return fail(command, config.status());

  Expected<std::vector<TorchTensor>> tensors = readTorchStateDict(files->model);
  if (!tensors.ok())
    return fail(command, tensors.status());
  // nanochat's loader strips torch.compile's prefix from every key.
  std::map<std::string, const TorchTensor *, std::less<>> byName;
  for (TorchTensor &tensor : *tensors) {
    if (std::string_view(tensor.name).substr(0, kCompiledPrefix.size()) ==
        kCompiledPrefix)
      tensor.name.erase(0, kCompiledPrefix.size());
    if (!byName.emplace(tensor.name, &tensor).second)
      return fail(command, Status::error("{}: tensor '{}' appears twice "
                                         "(with and without '_orig_mod.')",
                                         files->model, tensor.name));
  }
  std::vector<ParameterShape> params = parameterShapes(*config);
  std::set<std::string, std::less<>> expected;
  for (const ParameterShape &param : params)
    expected.insert(param.name);
  for (const TorchTensor &tensor : *tensors) {
    if (expected.count(tensor.name))
      continue;
    std::string_view feature = currentFeature(tensor.name);
    if (!feature.empty())
      return fail(command,
                  Status::error("{}: tensor '{}': {} (nanochat's current "
                                "model) are not supported yet; gptc imports "
                                "the classic model",
                                files->model, tensor.name, feature));
    return fail(command,
                Status::error("{}: tensor '{}' is not a parameter of the "
                              "classic nanochat model",
                              files->model, tensor.name));
  }
  std::vector<TensorRef> refs;
  for (const ParameterShape &param : params) {
    auto it = byName.find(param.name);
    if (it == byName.end())
      return fail(command, Status::error("{}: no tensor '{}' in the "
                                         "state_dict",
                                         files->model, param.name));
    const TorchTensor &tensor = *it->second;
    if (tensor.shape != param.shape) {
      bool padded = (param.name == "transformer.wte.weight" ||
                     param.name == "lm_head.weight") &&
                    tensor.shape.size() == 2 &&
                    tensor.shape[1] == param.shape[1] &&
                    tensor.shape[0] > param.shape[0];
      return fail(command,
                  Status::error("{}: tensor '{}' has shape {}, the config "
                                "in {} implies {}{}",
                                files->model, param.name,
                                formatShape(tensor.shape), files->meta,
                                formatShape(param.shape),
                                padded ? " (a padded vocabulary is not "
                                         "supported yet)"
                                       : ""));
    }
    if (tensor.dtype != DType::F32 && tensor.dtype != DType::BF16 &&
        tensor.dtype != DType::F16 && tensor.dtype != DType::F64)
      return fail(command,
                  Status::error("{}: tensor '{}' is {}, not a floating-point "
                                "type",
                                files->model, param.name,
                                dtypeName(tensor.dtype)));
    refs.push_back(
        {param.name, tensor.dtype, tensor.shape, tensor.data.data()});
  }

  const std::string &out = importOutput;
  if (Status status =
          prepareOutput(out, {"model.toml", "model.safetensors"}, importForce);
      !status.ok())
    return fail(command, status);
  std::map<std::string, std::string> metadata{
      {kConfigKey, configToJson(*config)},
      {kStepKey, std::to_string(files->step)}};
  std::string weightsPath = (fs::path(out) / "model.safetensors").string();
  if (Status status = writeSafetensors(weightsPath, refs, metadata);
      !status.ok())
    return fail(command, status);
  std::string toml = configToToml(
      *config, fmt::format("nanochat classic model, step {}, imported by gptc "
                           "import-nanochat",
                           files->step));
  if (Status status = writeFileAtomically(tomlPath, {toml}); !status.ok())
    return fail(command, status);
  llvm::outs() << "imported " << files->model << " (step " << files->step
               << ", " << refs.size() << " tensors, " << config->numParameters()
               << " parameters): wrote " << tomlPath << " and " << weightsPath
               << "\n";
  return 0;
}

/// A number field of the config JSON a model.safetensors carries.
std::optional<double> jsonNumber(const Json &object, const char *key) {
  const Json *value = object.find(key);
  if (!value)
    return std::nullopt;
  if (value->isBool())
    return value->getBool() ? 1 : 0;
  return value->isNumber() ? std::optional<double>(value->getNumber())
                           : std::nullopt;
}

/// The config of the weights in `weights`: its `config` metadata, or the
/// model.toml beside it.
Expected<GPTConfig> configOfWeights(const SafetensorsFile &weights) {
  const std::string *json = weights.findMetadata(kConfigKey);
  fs::path toml = fs::path(weights.getPath()).parent_path() / "model.toml";
  if (!json) {
    std::error_code ec;
    if (!fs::exists(toml, ec))
      return Status::error("{}: no 'config' metadata and no model.toml beside "
                           "it: cannot tell the model's config",
                           weights.getPath());
    llvm::Expected<GPTConfig> parsed = parseModelToml(toml.string());
    if (!parsed)
      return Status::error("{}", llvm::toString(parsed.takeError()));
    return *parsed;
  }
  std::string what = weights.getPath() + ": config metadata";
  Expected<Json> object = parseJson(*json, what);
  if (!object.ok())
    return object.status();
  GPTConfig config;
  struct Field {
    const char *key;
    double *real;
    int64_t *integer;
    bool *flag;
  } fields[] = {{"n_layer", nullptr, &config.nLayer, nullptr},
                {"n_head", nullptr, &config.nHead, nullptr},
                {"n_kv_head", nullptr, &config.nKvHead, nullptr},
                {"n_embd", nullptr, &config.nEmbd, nullptr},
                {"vocab_size", nullptr, &config.vocabSize, nullptr},
                {"sequence_len", nullptr, &config.sequenceLen, nullptr},
                {"softcap", &config.softcap, nullptr, nullptr},
                {"rope_base", &config.ropeBase, nullptr, nullptr},
                {"rope_bf16", nullptr, nullptr, &config.ropeBf16},
                {"qk_scale", &config.qkScale, nullptr, nullptr}};
  for (const Field &field : fields) {
    std::optional<double> value = jsonNumber(*object, field.key);
    if (!value)
      return Status::error("{}: field '{}' is missing", what, field.key);
    if (field.real)
      *field.real = *value;
    else if (field.integer)
      *field.integer = int64_t(*value);
    else
      *field.flag = *value != 0;
  }
  return validateConfig(config, toml.string(), what);
}

int runExport() {
  constexpr std::string_view command = "export-nanochat";
  std::error_code ec;
  std::string weightsPath = exportInput;
  bool isDir = fs::is_directory(weightsPath, ec);
  if (isDir)
    weightsPath = (fs::path(weightsPath) / "model.safetensors").string();
  Expected<SafetensorsFile> weights = SafetensorsFile::open(weightsPath);
  if (!weights.ok())
    return fail(command, weights.status());
  Expected<GPTConfig> config = configOfWeights(*weights);
  if (!config.ok())
    return fail(command, config.status());
  // nanochat's classic model fixes these; other values cannot go back.
  struct Fixed {
    const char *key;
    double value, required;
  } fixed[] = {{"softcap", config->softcap, 15.0},
               {"rope_base", config->ropeBase, 10000.0},
               {"qk_scale", config->qkScale, 1.0}};
  for (const Fixed &f : fixed)
    if (f.value != f.required)
      return fail(command,
                  Status::error("{}: model config field '{}' is {}; nanochat's "
                                "classic model has {}, so it cannot load this "
                                "model",
                                weightsPath, f.key, f.value, f.required));

  // The step: --step, else the one the weights (or the run's checkpoint)
  // record, else 0.
  int64_t step = exportStep;
  if (step < 0) {
    step = 0;
    const std::string *recorded = weights->findMetadata(kStepKey);
    std::optional<SafetensorsFile> checkpoint;
    fs::path run =
        fs::path(weightsPath).parent_path() / "checkpoint.safetensors";
    if (!recorded && fs::exists(run, ec)) {
      Expected<SafetensorsFile> opened = SafetensorsFile::open(run.string());
      if (opened.ok()) {
        checkpoint.emplace(std::move(*opened));
        recorded = checkpoint->findMetadata(kStepKey);
      }
    }
    if (recorded) {
      Expected<Json> parsed = parseJson(*recorded, weightsPath + ": step");
      if (!parsed.ok() || !parsed->isNumber() || !parsed->getInteger() ||
          *parsed->getInteger() < 0)
        return fail(command, Status::error("{}: step metadata '{}' is not a "
                                           "step number",
                                           weightsPath, *recorded));
      step = *parsed->getInteger();
    }
  }

  std::vector<ParameterShape> params = parameterShapes(*config);
  std::set<std::string, std::less<>> expected;
  std::vector<TensorRef> refs;
  for (const ParameterShape &param : params) {
    expected.insert(param.name);
    const TensorInfo *info = weights->find(param.name);
    if (!info)
      return fail(command,
                  Status::error("{}: no tensor '{}'", weightsPath, param.name));
    if (info->shape != param.shape)
      return fail(command,
                  Status::error("{}: tensor '{}' has shape {}, the config "
                                "implies {}",
                                weightsPath, param.name,
                                formatShape(info->shape),
                                formatShape(param.shape)));
    refs.push_back(
        {param.name, info->dtype, info->shape, weights->getRawData(*info)});
  }
  for (const TensorInfo &info : weights->getTensors())
    if (!expected.count(info.name))
      return fail(command, Status::error("{}: tensor '{}' is not a parameter "
                                         "of the model",
                                         weightsPath, info.name));

  const std::string &out = exportOutput;
  std::string modelName = "model_" + stepName(step) + ".pt";
  std::string metaName = "meta_" + stepName(step) + ".json";
  if (Status status = prepareOutput(out, {modelName, metaName}, exportForce);
      !status.ok())
    return fail(command, status);
  std::string modelPath = (fs::path(out) / modelName).string();
  if (Status status =
          writeTorchStateDict(modelPath, "model_" + stepName(step), refs);
      !status.ok())
    return fail(command, status);
  Json modelConfig = Json::object();
  int64_t values[] = {config->sequenceLen, config->vocabSize, config->nLayer,
                      config->nHead,       config->nKvHead,   config->nEmbd};
  for (size_t i = 0; i < std::size(kConfigFields); ++i)
    modelConfig.set(kConfigFields[i], Json::integer(values[i]));
  Json meta = Json::object();
  meta.set("step", Json::integer(step));
  meta.set("model_config", std::move(modelConfig));
  meta.set("user_config", Json::object());
  std::string metaText = meta.serialize() + "\n";
  std::string metaPath = (fs::path(out) / metaName).string();
  if (Status status = writeFileAtomically(metaPath, {metaText}); !status.ok())
    return fail(command, status);
  llvm::outs() << "exported " << weightsPath << ": wrote " << modelPath
               << " and " << metaPath << "\n";
  return 0;
}

} // namespace

std::optional<int> gptc::runNanochatCommand() {
  if (importCommand)
    return runImport();
  if (exportCommand)
    return runExport();
  return std::nullopt;
}
