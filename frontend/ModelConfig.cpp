//===- ModelConfig.cpp - Model definitions: TOML and bundle configs -------===//
//
// Parses a model definition from a TOML file (toml++, without exceptions) or
// from a bundle's JSON config (llvm::json) into a GPTConfig. Both formats
// share the table of model fields, the typed assignment of a field and the
// semantic validation; they differ only in how they locate a field in their
// diagnostics (line:col for TOML, the field name for JSON).
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelConfig.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <cassert>
#include <cmath>
#include <limits>
#include <optional>
#include <variant>

using namespace gptc;
using llvm::StringRef;
using llvm::Twine;

namespace {

/// Largest accepted size: every dimension must fit a 32-bit shape.
constexpr int64_t kMaxSize = std::numeric_limits<int32_t>::max();

/// A field of GPTConfig that both TOML files and bundle configs set by name.
/// Its member pointer gives its type: the sizes (int64_t) are required, the
/// reals and flags are optional with GPTConfig's defaults.
struct ModelField {
  llvm::StringLiteral key;
  std::variant<int64_t GPTConfig::*, double GPTConfig::*, bool GPTConfig::*>
      member;

  bool isSize() const {
    return std::holds_alternative<int64_t GPTConfig::*>(member);
  }
  int64_t GPTConfig::*size() const {
    return std::get<int64_t GPTConfig::*>(member);
  }
};

constexpr ModelField kModelFields[] = {
    {"n_layer", &GPTConfig::nLayer},
    {"n_head", &GPTConfig::nHead},
    {"n_kv_head", &GPTConfig::nKvHead},
    {"n_embd", &GPTConfig::nEmbd},
    {"vocab_size", &GPTConfig::vocabSize},
    {"sequence_len", &GPTConfig::sequenceLen},
    {"softcap", &GPTConfig::softcap},
    {"rope_base", &GPTConfig::ropeBase},
    {"rope_bf16", &GPTConfig::ropeBf16},
    {"qk_scale", &GPTConfig::qkScale},
};

/// Bundle config fields beyond kModelFields.
constexpr llvm::StringLiteral kBundleOnlyFields[] = {
    "window_pattern", "value_embeds", "smear",   "backout",
    "layer_lambdas",  "pad_vocab_to", "rms_eps", "variant"};

/// Bundle feature flags gptc does not implement yet: they must be false.
constexpr llvm::StringLiteral kUnsupportedFlags[] = {
    "value_embeds", "smear", "backout", "layer_lambdas"};

/// Top-level TOML tables: a model definition holds [model] only, so that a
/// table meant for something else is an error rather than ignored.
constexpr llvm::StringLiteral kTopLevelTables[] = {"model"};

/// Reports that field `key` is invalid, as "<key> <predicate>" (TOML) or
/// "config field '<key>': <predicate>" (JSON), located at the field.
using FieldErrorFn =
    llvm::function_ref<llvm::Error(StringRef key, const Twine &predicate)>;

} // namespace

static const ModelField *lookupModelField(StringRef key) {
  const auto *it = llvm::find_if(
      kModelFields, [&](const ModelField &field) { return field.key == key; });
  return it == std::end(kModelFields) ? nullptr : it;
}

static llvm::SmallVector<StringRef> modelKeys() {
  return llvm::to_vector(
      llvm::map_range(kModelFields, [](const ModelField &field) -> StringRef {
        return field.key;
      }));
}

/// Explains which keys are allowed instead of the unknown `key`, suggesting
/// the closest one within edit distance 2:
/// "did you mean 'n_head'? allowed: n_layer, n_head, ...".
static std::string describeAllowed(StringRef key,
                                   llvm::ArrayRef<StringRef> allowed) {
  std::string text;
  llvm::raw_string_ostream os(text);
  StringRef closest;
  unsigned closestDistance = 3;
  for (StringRef candidate : allowed) {
    unsigned distance = key.edit_distance(candidate);
    if (distance < closestDistance) {
      closest = candidate;
      closestDistance = distance;
    }
  }
  if (!closest.empty())
    os << "did you mean '" << closest << "'? ";
  os << "allowed: " << llvm::join(allowed, ", ");
  return text;
}

/// Formats a real for diagnostics and summaries: "15", "1.2", "inf".
static std::string formatReal(double value) {
  return llvm::formatv("{0}", llvm::format("%.9g", value)).str();
}

//===----------------------------------------------------------------------===//
// Typed access to TOML nodes and JSON values
//===----------------------------------------------------------------------===//

static std::optional<int64_t> getInteger(const toml::node &node) {
  if (const auto *value = node.as_integer())
    return value->get();
  return std::nullopt;
}
static std::optional<double> getNumber(const toml::node &node) {
  if (const auto *value = node.as_floating_point())
    return value->get();
  if (const auto *value = node.as_integer())
    return static_cast<double>(value->get());
  return std::nullopt;
}
static std::optional<bool> getBool(const toml::node &node) {
  if (const auto *value = node.as_boolean())
    return value->get();
  return std::nullopt;
}
static std::string describe(const toml::node &node) {
  switch (node.type()) {
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a float";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::date:
    return "a date";
  case toml::node_type::time:
    return "a time";
  case toml::node_type::date_time:
    return "a date-time";
  case toml::node_type::none:
    break;
  }
  return "nothing";
}

static std::optional<int64_t> getInteger(const llvm::json::Value &value) {
  return value.getAsInteger();
}
static std::optional<double> getNumber(const llvm::json::Value &value) {
  return value.getAsNumber();
}
static std::optional<bool> getBool(const llvm::json::Value &value) {
  return value.getAsBoolean();
}
static std::string describe(const llvm::json::Value &value) {
  switch (value.kind()) {
  case llvm::json::Value::Null:
    return "null";
  case llvm::json::Value::Boolean:
    return "a boolean";
  case llvm::json::Value::Number:
    // Name the number: "must be an integer, got 2.5" says more than its type.
    return llvm::formatv("{0}", value).str();
  case llvm::json::Value::String:
    return "a string";
  case llvm::json::Value::Array:
    return "an array";
  case llvm::json::Value::Object:
    return "an object";
  }
  llvm_unreachable("unknown JSON value kind");
}

//===----------------------------------------------------------------------===//
// Shared assignment and validation
//===----------------------------------------------------------------------===//

/// The type error "must be <what>, got <what `node` is>".
template <typename Node>
static std::string mustBe(StringRef what, const Node &node) {
  return ("must be " + what + ", got " + describe(node)).str();
}

/// Stores `node` (a TOML node or JSON value) into `field` of `config`,
/// checking its type: integers for sizes, floats or integers for reals,
/// booleans for flags.
template <typename Node>
static llvm::Error assignModelField(GPTConfig &config, const ModelField &field,
                                    const Node &node, FieldErrorFn fieldError) {
  if (const auto *size = std::get_if<int64_t GPTConfig::*>(&field.member)) {
    std::optional<int64_t> value = getInteger(node);
    if (!value)
      return fieldError(field.key, mustBe("an integer", node));
    config.**size = *value;
  } else if (const auto *real =
                 std::get_if<double GPTConfig::*>(&field.member)) {
    std::optional<double> value = getNumber(node);
    if (!value)
      return fieldError(field.key, mustBe("a number", node));
    config.**real = *value;
  } else {
    std::optional<bool> value = getBool(node);
    if (!value)
      return fieldError(field.key, mustBe("a boolean", node));
    config.*std::get<bool GPTConfig::*>(field.member) = *value;
  }
  return llvm::Error::success();
}

/// Returns a·b + c, or std::nullopt if any operand is missing or the result
/// overflows int64_t.
static std::optional<int64_t> mulAdd(std::optional<int64_t> a,
                                     std::optional<int64_t> b,
                                     std::optional<int64_t> c = 0) {
  if (!a || !b || !c)
    return std::nullopt;
  return llvm::checkedMulAdd(*a, *b, *c);
}

/// 2·V·C + L·(2·C² + 2·C·Hkv·D + 8·C²), or std::nullopt on overflow. The
/// head configuration must divide evenly, so that Hkv·D <= C.
static std::optional<int64_t> checkedParameterCount(const GPTConfig &config) {
  int64_t c = config.nEmbd;
  std::optional<int64_t> attentionKv =
      mulAdd(2, mulAdd(c, config.nKvHead * config.headDim()));
  std::optional<int64_t> perLayer = mulAdd(10, mulAdd(c, c), attentionKv);
  std::optional<int64_t> embeddings = mulAdd(2, mulAdd(config.vocabSize, c));
  return mulAdd(config.nLayer, perLayer, embeddings);
}

/// Checks a real field: finite and greater than `lowerBound`.
static llvm::Error checkReal(StringRef key, double value, double lowerBound,
                             FieldErrorFn fieldError) {
  if (std::isfinite(value) && value > lowerBound)
    return llvm::Error::success();
  return fieldError(key, "must be a finite number greater than " +
                             formatReal(lowerBound) + ", got " +
                             formatReal(value));
}

/// Validates the values of a fully assigned config, reporting the first
/// problem at the field to change.
static llvm::Error validate(const GPTConfig &config, FieldErrorFn fieldError) {
  for (const ModelField &field : kModelFields) {
    if (!field.isSize())
      continue;
    int64_t value = config.*field.size();
    if (value < 1)
      return fieldError(field.key, "must be positive, got " + Twine(value));
    if (value > kMaxSize)
      return fieldError(field.key, "must be at most " + Twine(kMaxSize) +
                                       ", got " + Twine(value));
  }
  if (config.nKvHead > config.nHead)
    return fieldError("n_kv_head", "must not exceed n_head (" +
                                       Twine(config.nHead) + "), got " +
                                       Twine(config.nKvHead));
  if (config.nHead % config.nKvHead != 0)
    return fieldError("n_kv_head", "must divide n_head (" +
                                       Twine(config.nHead) + "), got " +
                                       Twine(config.nKvHead));
  if (config.nEmbd % config.nHead != 0)
    return fieldError("n_embd", "must be a multiple of n_head (" +
                                    Twine(config.nHead) + "), got " +
                                    Twine(config.nEmbd));
  if (config.headDim() % 2 != 0)
    return fieldError("n_embd",
                      "must split into heads of even dimension (RoPE rotates "
                      "channel pairs), got head dim " +
                          Twine(config.nEmbd) + " / " + Twine(config.nHead) +
                          " = " + Twine(config.headDim()));
  if (llvm::Error err = checkReal("softcap", config.softcap, 0, fieldError))
    return err;
  if (llvm::Error err = checkReal("rope_base", config.ropeBase, 1, fieldError))
    return err;
  if (llvm::Error err = checkReal("qk_scale", config.qkScale, 0, fieldError))
    return err;
  if (llvm::Error err = checkReal("rms_eps", config.rmsEps, 0, fieldError))
    return err;
  if (!checkedParameterCount(config))
    return fieldError("n_embd", "is too large: the parameter count overflows "
                                "a 64-bit integer");
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// TOML
//===----------------------------------------------------------------------===//

static llvm::Error tomlError(StringRef path,
                             const toml::source_position &position,
                             const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 path + ":" + Twine(position.line) + ":" +
                                     Twine(position.column) +
                                     ": error: " + message);
}

/// The entries of `table` in document order (toml++ sorts them by key).
static llvm::SmallVector<std::pair<const toml::key *, const toml::node *>>
entriesInDocumentOrder(const toml::table &table) {
  llvm::SmallVector<std::pair<const toml::key *, const toml::node *>> entries;
  for (const auto &[key, node] : table)
    entries.emplace_back(&key, &node);
  llvm::sort(entries, [](const auto &lhs, const auto &rhs) {
    const toml::source_position &l = lhs.first->source().begin;
    const toml::source_position &r = rhs.first->source().begin;
    return std::make_pair(l.line, l.column) < std::make_pair(r.line, r.column);
  });
  return entries;
}

/// Checks the top-level keys of `root` and returns its [model] table.
static llvm::Expected<const toml::table *>
findModelTable(const toml::table &root, StringRef path) {
  llvm::SmallVector<StringRef> allowed(std::begin(kTopLevelTables),
                                       std::end(kTopLevelTables));
  for (auto [key, node] : entriesInDocumentOrder(root)) {
    StringRef name = key->str();
    if (!llvm::is_contained(allowed, name)) {
      // Run settings are not part of a model definition.
      StringRef note = name == "train" || name == "decode"
                           ? "; training and decoding settings are flags of "
                             "the compiled binaries (see their --help)"
                           : "";
      return tomlError(path, key->source().begin,
                       "unknown top-level key '" + name + "'; " +
                           describeAllowed(name, allowed) + note);
    }
    if (!node->is_table())
      return tomlError(path, node->source().begin,
                       name + " " + mustBe("a table", *node));
  }
  if (const toml::table *model = root["model"].as_table())
    return model;
  return tomlError(path, {1, 1}, "missing table [model]");
}

llvm::Expected<GPTConfig> gptc::parseModelTomlString(StringRef text,
                                                     StringRef displayPath) {
  toml::parse_result parsed =
      toml::parse(std::string_view(text.data(), text.size()),
                  std::string_view(displayPath.data(), displayPath.size()));
  if (!parsed)
    return tomlError(displayPath, parsed.error().source().begin,
                     std::string(parsed.error().description()));

  llvm::Expected<const toml::table *> modelOrErr =
      findModelTable(parsed.table(), displayPath);
  if (!modelOrErr)
    return modelOrErr.takeError();
  const toml::table *model = *modelOrErr;

  // Errors at a [model] field point at its value, or at the table header
  // for a field that is absent.
  auto fieldError = [&](StringRef key, const Twine &predicate) {
    const toml::node *node =
        model->get(std::string_view(key.data(), key.size()));
    return tomlError(displayPath,
                     (node ? node->source() : model->source()).begin,
                     key + " " + predicate);
  };

  GPTConfig config;
  config.name = llvm::sys::path::stem(displayPath).str();
  for (auto [key, node] : entriesInDocumentOrder(*model)) {
    StringRef name = key->str();
    const ModelField *field = lookupModelField(name);
    if (!field)
      return tomlError(displayPath, key->source().begin,
                       "unknown key '" + name + "' in [model]; " +
                           describeAllowed(name, modelKeys()));
    if (llvm::Error err = assignModelField(config, *field, *node, fieldError))
      return std::move(err);
  }
  for (const ModelField &field : kModelFields)
    if (field.isSize() &&
        !model->contains(std::string_view(field.key.data(), field.key.size())))
      return tomlError(displayPath, model->source().begin,
                       "missing required key '" + field.key + "' in [model]");

  if (llvm::Error err = validate(config, fieldError))
    return std::move(err);
  return config;
}

llvm::Expected<GPTConfig> gptc::parseModelToml(StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "error: cannot open '" + path +
                                       "': " + buffer.getError().message());
  return parseModelTomlString((*buffer)->getBuffer(), path);
}

//===----------------------------------------------------------------------===//
// Bundle JSON config
//===----------------------------------------------------------------------===//

/// Reads the bundle-only fields: features gptc lacks must be off, rms_eps
/// sets `config.rmsEps` and pad_vocab_to is returned in `padVocabTo`.
static llvm::Error readBundleOnlyFields(GPTConfig &config, int64_t &padVocabTo,
                                        const llvm::json::Object &object,
                                        FieldErrorFn fieldError) {
  if (const llvm::json::Value *value = object.get("window_pattern")) {
    std::optional<StringRef> pattern = value->getAsString();
    if (!pattern || (*pattern != "none" &&
                     (pattern->empty() ||
                      pattern->find_first_not_of("LS") != StringRef::npos)))
      return fieldError("window_pattern",
                        "must be \"none\" or a string of 'L' and 'S' "
                        "characters, got " +
                            llvm::formatv("{0}", *value).str());
    // 'L' is full context, the same as no window at T <= sequence_len.
    if (pattern->contains('S'))
      return fieldError("window_pattern",
                        "sliding windows ('S') are not supported yet");
  }

  for (StringRef flag : kUnsupportedFlags) {
    const llvm::json::Value *value = object.get(flag);
    if (!value)
      continue;
    std::optional<bool> enabled = value->getAsBoolean();
    if (!enabled)
      return fieldError(flag, mustBe("a boolean", *value));
    if (*enabled)
      return fieldError(flag, "true is not supported yet (must be false)");
  }

  if (const llvm::json::Value *value = object.get("pad_vocab_to")) {
    std::optional<int64_t> multiple = value->getAsInteger();
    if (!multiple)
      return fieldError("pad_vocab_to", mustBe("an integer", *value));
    if (*multiple < 1)
      return fieldError("pad_vocab_to",
                        "must be positive, got " + Twine(*multiple));
    padVocabTo = *multiple;
  }

  if (const llvm::json::Value *value = object.get("rms_eps")) {
    if (std::optional<double> epsilon = value->getAsNumber())
      config.rmsEps = static_cast<float>(*epsilon);
    else if (value->getAsString() == StringRef("f32"))
      config.rmsEps = std::numeric_limits<float>::epsilon();
    else
      return fieldError("rms_eps", "must be \"f32\" or a number, got " +
                                       llvm::formatv("{0}", *value).str());
  }

  if (const llvm::json::Value *value = object.get("variant")) {
    std::optional<StringRef> variant = value->getAsString();
    if (variant != StringRef("classic") && variant != StringRef("current"))
      return fieldError("variant", "must be \"classic\" or \"current\", got " +
                                       llvm::formatv("{0}", *value).str());
  }
  return llvm::Error::success();
}

llvm::Expected<GPTConfig>
gptc::parseBundleConfig(const llvm::json::Object &object,
                        StringRef displayPath) {
  auto fieldError = [&](StringRef key, const Twine &predicate) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   displayPath + ": error: config field '" +
                                       key + "': " + predicate);
  };

  // Unknown fields first, in sorted order so the report is deterministic.
  llvm::SmallVector<StringRef> allowed = modelKeys();
  allowed.append(std::begin(kBundleOnlyFields), std::end(kBundleOnlyFields));
  llvm::SmallVector<StringRef> keys;
  for (const auto &entry : object)
    keys.push_back(entry.first);
  llvm::sort(keys);
  for (StringRef key : keys)
    if (!llvm::is_contained(allowed, key))
      return fieldError(key, "unknown field; " + describeAllowed(key, allowed));

  GPTConfig config;
  StringRef bundleDir =
      llvm::sys::path::filename(llvm::sys::path::parent_path(displayPath));
  config.name = bundleDir.empty() ? llvm::sys::path::stem(displayPath).str()
                                  : bundleDir.str();
  for (const ModelField &field : kModelFields) {
    if (const llvm::json::Value *value = object.get(field.key)) {
      if (llvm::Error err = assignModelField(config, field, *value, fieldError))
        return std::move(err);
    } else if (field.isSize()) {
      return fieldError(field.key, "required field is missing");
    }
  }
  int64_t padVocabTo = 1;
  if (llvm::Error err =
          readBundleOnlyFields(config, padVocabTo, object, fieldError))
    return std::move(err);
  if (llvm::Error err = validate(config, fieldError))
    return std::move(err);
  if (config.vocabSize % padVocabTo != 0)
    return fieldError("pad_vocab_to",
                      "padding vocab_size " + Twine(config.vocabSize) +
                          " to a multiple of " + Twine(padVocabTo) +
                          " is not supported yet");
  return config;
}

//===----------------------------------------------------------------------===//
// GPTConfig
//===----------------------------------------------------------------------===//

std::vector<ParameterShape> gptc::parameterShapes(const GPTConfig &config) {
  int64_t C = config.nEmbd, D = config.headDim(), V = config.vocabSize;
  std::vector<ParameterShape> shapes{{"transformer.wte.weight", {V, C}}};
  for (int64_t i = 0; i < config.nLayer; ++i) {
    std::string h = "transformer.h." + std::to_string(i);
    shapes.push_back({h + ".attn.c_q.weight", {config.nHead * D, C}, i});
    shapes.push_back({h + ".attn.c_k.weight", {config.nKvHead * D, C}, i});
    shapes.push_back({h + ".attn.c_v.weight", {config.nKvHead * D, C}, i});
    shapes.push_back({h + ".attn.c_proj.weight", {C, C}, i});
    shapes.push_back({h + ".mlp.c_fc.weight", {4 * C, C}, i});
    shapes.push_back({h + ".mlp.c_proj.weight", {C, 4 * C}, i});
  }
  shapes.push_back({"lm_head.weight", {V, C}});
  return shapes;
}

int64_t GPTConfig::numParameters() const {
  std::optional<int64_t> count = checkedParameterCount(*this);
  assert(count && "the parameter count of a validated config fits int64_t");
  return *count;
}

void gptc::printConfig(const GPTConfig &config, llvm::raw_ostream &os) {
  auto row = [&](StringRef key, StringRef letter, const Twine &value) {
    os << llvm::formatv("  {0,-13}{1,-4}= {2}\n", key, letter, value.str());
  };
  os << "model " << config.name << "\n";
  row("n_layer", "L", Twine(config.nLayer));
  row("n_head", "H", Twine(config.nHead));
  row("n_kv_head", "Hkv", Twine(config.nKvHead));
  row("n_embd", "C", Twine(config.nEmbd));
  row("vocab_size", "V", Twine(config.vocabSize));
  row("sequence_len", "T", Twine(config.sequenceLen));
  row("head_dim", "D", Twine(config.headDim()));
  row("group_size", "G", Twine(config.groupSize()));
  row("softcap", "", formatReal(config.softcap));
  row("rope_base", "", formatReal(config.ropeBase));
  row("rope_bf16", "", config.ropeBf16 ? "true" : "false");
  row("qk_scale", "", formatReal(config.qkScale));
  row("rms_eps", "", formatReal(config.rmsEps));
  row("parameters", "", Twine(config.numParameters()));
}
