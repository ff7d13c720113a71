//===- ModelConfigTest.cpp - Tests for TOML and bundle model configs ------===//
//
// Happy paths and every diagnostic of frontend/ModelConfig, with the exact
// message and location; the real bundle configs under tests/golden; and a
// consistency check of the lit inputs under tests/frontend, whose CHECK lines
// must match what the parser reports.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelConfig.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <map>

using namespace gptc;
using llvm::StringRef;

namespace {

constexpr StringRef kAllowedModelKeys =
    "allowed: n_layer, n_head, n_kv_head, n_embd, vocab_size, sequence_len, "
    "softcap, rope_base, rope_bf16, qk_scale";

/// The diagnostic of a failed parse, or "" if it succeeded.
std::string errorOf(llvm::Expected<GPTConfig> result) {
  if (result)
    return "";
  return llvm::toString(result.takeError());
}

/// Asserts that `result`, an llvm::Expected<GPTConfig>, holds a config.
#define ASSERT_PARSED(result)                                                  \
  ASSERT_TRUE(bool(result)) << llvm::toString(result.takeError())

/// The printed summary of a parsed config, or the diagnostic of a failure.
std::string summaryOf(llvm::Expected<GPTConfig> result) {
  if (!result)
    return llvm::toString(result.takeError());
  std::string text;
  llvm::raw_string_ostream os(text);
  printConfig(*result, os);
  return text;
}

//===----------------------------------------------------------------------===//
// TOML
//===----------------------------------------------------------------------===//

/// A valid model, one key per line: [model] is line 1, n_layer line 2, ...,
/// sequence_len line 7. A value starts at column key.size() + 4.
constexpr const char *kBaseLines[] = {
    "[model]",      "n_layer = 4",      "n_head = 4",        "n_kv_head = 4",
    "n_embd = 256", "vocab_size = 256", "sequence_len = 256"};

/// The base model with the lines of the keys in `overrides` replaced (an
/// empty replacement deletes the line, leaving it blank) and `extra` lines
/// appended from line 8 on.
std::string modelWith(const std::map<std::string, std::string> &overrides,
                      StringRef extra = "") {
  std::string text;
  for (StringRef line : kBaseLines) {
    auto it = overrides.find(line.split(' ').first.str());
    text += (it == overrides.end() ? line.str() : it->second) + "\n";
  }
  return text + extra.str();
}

std::string tomlError(StringRef text) {
  return errorOf(parseModelTomlString(text, "m.toml"));
}

TEST(ModelToml, ParsesRequiredKeysWithDefaults) {
  llvm::Expected<GPTConfig> parsed =
      parseModelTomlString(modelWith({}), "dir/tiny.toml");
  ASSERT_PARSED(parsed);
  const GPTConfig &config = *parsed;
  EXPECT_EQ(config.name, "tiny");
  EXPECT_EQ(config.nLayer, 4);
  EXPECT_EQ(config.nHead, 4);
  EXPECT_EQ(config.nKvHead, 4);
  EXPECT_EQ(config.nEmbd, 256);
  EXPECT_EQ(config.vocabSize, 256);
  EXPECT_EQ(config.sequenceLen, 256);
  EXPECT_EQ(config.softcap, 15.0);
  EXPECT_EQ(config.ropeBase, 10000.0);
  EXPECT_FALSE(config.ropeBf16);
  EXPECT_EQ(config.qkScale, 1.0);
  EXPECT_EQ(config.rmsEps, 1.1920929e-07f);
  EXPECT_EQ(config.headDim(), 64);
  EXPECT_EQ(config.groupSize(), 1);
  // 2·256·256 + 4·(2·256² + 2·256·4·64 + 8·256²)
  EXPECT_EQ(config.numParameters(), 131072 + 4 * 786432);
}

TEST(ModelToml, ParsesOptionalKeys) {
  std::string text =
      modelWith({{"n_kv_head", "n_kv_head = 2"}}, "softcap = 30\n"
                                                  "rope_base = 500000.0\n"
                                                  "rope_bf16 = true\n"
                                                  "qk_scale = 1.2\n");
  llvm::Expected<GPTConfig> parsed = parseModelTomlString(text, "gqa.toml");
  ASSERT_PARSED(parsed);
  const GPTConfig &config = *parsed;
  EXPECT_EQ(config.nKvHead, 2);
  EXPECT_EQ(config.groupSize(), 2);
  EXPECT_EQ(config.softcap, 30.0);
  EXPECT_EQ(config.ropeBase, 500000.0);
  EXPECT_TRUE(config.ropeBf16);
  EXPECT_EQ(config.qkScale, 1.2);
}

TEST(ModelToml, AcceptsInlineModelTable) {
  llvm::Expected<GPTConfig> config = parseModelTomlString(
      "model = { n_layer = 1, n_head = 2, n_kv_head = 1, n_embd = 8, "
      "vocab_size = 5, sequence_len = 3 }\n",
      "inline.toml");
  ASSERT_PARSED(config);
  EXPECT_EQ(config->nKvHead, 1);
  EXPECT_EQ(config->headDim(), 4);
}

TEST(ModelToml, PrintsSummary) {
  EXPECT_EQ(
      summaryOf(parseModelTomlString(
          modelWith({{"n_kv_head", "n_kv_head = 2"}}), "models/small.toml")),
      // 2·256·256 + 4·(2·256² + 2·256·2·64 + 8·256²) parameters.
      "model small\n"
      "  n_layer      L   = 4\n"
      "  n_head       H   = 4\n"
      "  n_kv_head    Hkv = 2\n"
      "  n_embd       C   = 256\n"
      "  vocab_size   V   = 256\n"
      "  sequence_len T   = 256\n"
      "  head_dim     D   = 64\n"
      "  group_size   G   = 2\n"
      "  softcap          = 15\n"
      "  rope_base        = 10000\n"
      "  rope_bf16        = false\n"
      "  qk_scale         = 1\n"
      "  rms_eps          = 1.1920929e-07\n"
      "  parameters       = 3014656\n");
}

TEST(ModelToml, FileNotFound) {
  EXPECT_EQ(errorOf(parseModelToml("no/such/x.toml")),
            "error: cannot open 'no/such/x.toml': No such file or directory");
}

TEST(ModelToml, SyntaxError) {
  EXPECT_EQ(tomlError(modelWith({{"n_head", "n_head = "}})),
            "m.toml:3:10: error: Error while parsing key-value pair: expected "
            "value, saw '\\n'");
  EXPECT_EQ(tomlError("[model\n"),
            "m.toml:1:7: error: Error while parsing table header: expected "
            "']', saw '\\n'");
  EXPECT_EQ(
      tomlError(modelWith({{"n_layer", "n_layer = 99999999999999999999"}})),
      "m.toml:2:31: error: Error while parsing decimal integer: "
      "'99999999999999999999' is not representable in 64 bits");
}

TEST(ModelToml, MissingModelTable) {
  EXPECT_EQ(tomlError(""), "m.toml:1:1: error: missing table [model]");
  EXPECT_EQ(tomlError("# just a comment\n\n"),
            "m.toml:1:1: error: missing table [model]");
}

TEST(ModelToml, TopLevelTablesMustBeTables) {
  EXPECT_EQ(tomlError("model = 4\n"),
            "m.toml:1:9: error: model must be a table, got an integer");
}

TEST(ModelToml, UnknownTopLevelKey) {
  EXPECT_EQ(tomlError("[modle]\nn_layer = 4\n"),
            "m.toml:1:2: error: unknown top-level key 'modle'; did you mean "
            "'model'? allowed: model");
  EXPECT_EQ(tomlError(modelWith({}, "[optimizer]\n")),
            "m.toml:8:2: error: unknown top-level key 'optimizer'; allowed: "
            "model");
  EXPECT_EQ(tomlError("seed = 7\n" + modelWith({})),
            "m.toml:1:1: error: unknown top-level key 'seed'; allowed: model");
  // Run settings are flags, not tables that would be ignored.
  EXPECT_EQ(tomlError(modelWith({}, "[train]\nsteps = 10\n")),
            "m.toml:8:2: error: unknown top-level key 'train'; allowed: model; "
            "training and decoding settings are flags of the compiled "
            "binaries (see their --help)");
}

TEST(ModelToml, UnknownModelKey) {
  EXPECT_EQ(tomlError(modelWith({{"n_head", "n_heads = 4"}})),
            "m.toml:3:1: error: unknown key 'n_heads' in [model]; did you "
            "mean 'n_head'? " +
                kAllowedModelKeys.str());
  EXPECT_EQ(tomlError(modelWith({}, "  dropout = 0.1\n")),
            "m.toml:8:3: error: unknown key 'dropout' in [model]; " +
                kAllowedModelKeys.str());
  // A dotted key makes a sub-table; its first component is the unknown key.
  EXPECT_EQ(tomlError(modelWith({}, "attn.window = 3\n")),
            "m.toml:8:1: error: unknown key 'attn' in [model]; " +
                kAllowedModelKeys.str());
}

TEST(ModelToml, ReportsTheFirstErrorInDocumentOrder) {
  // toml++ sorts keys; "zzz" sorts after "n_embd" but comes first here.
  EXPECT_EQ(tomlError("[model]\nzzz = 1\nn_embd = \"x\"\n"),
            "m.toml:2:1: error: unknown key 'zzz' in [model]; " +
                kAllowedModelKeys.str());
}

TEST(ModelToml, MissingRequiredKey) {
  EXPECT_EQ(tomlError(modelWith({{"vocab_size", ""}})),
            "m.toml:1:1: error: missing required key 'vocab_size' in [model]");
  EXPECT_EQ(tomlError("# header\n\n  [model]\nn_layer = 1\n"),
            "m.toml:3:3: error: missing required key 'n_head' in [model]");
}

TEST(ModelToml, WrongTypes) {
  EXPECT_EQ(tomlError(modelWith({{"n_head", "n_head = \"4\""}})),
            "m.toml:3:10: error: n_head must be an integer, got a string");
  EXPECT_EQ(tomlError(modelWith({{"n_embd", "n_embd = 256.0"}})),
            "m.toml:5:10: error: n_embd must be an integer, got a float");
  EXPECT_EQ(tomlError(modelWith({}, "softcap = true\n")),
            "m.toml:8:11: error: softcap must be a number, got a boolean");
  EXPECT_EQ(tomlError(modelWith({}, "rope_base = 1979-05-27\n")),
            "m.toml:8:13: error: rope_base must be a number, got a date");
  EXPECT_EQ(tomlError(modelWith({}, "rope_bf16 = \"yes\"\n")),
            "m.toml:8:13: error: rope_bf16 must be a boolean, got a string");
  EXPECT_EQ(tomlError(modelWith({}, "qk_scale = { x = 1 }\n")),
            "m.toml:8:12: error: qk_scale must be a number, got a table");
}

TEST(ModelToml, NonPositiveSizes) {
  EXPECT_EQ(tomlError(modelWith({{"n_layer", "n_layer = 0"}})),
            "m.toml:2:11: error: n_layer must be positive, got 0");
  EXPECT_EQ(tomlError(modelWith({{"sequence_len", "sequence_len = -8"}})),
            "m.toml:7:16: error: sequence_len must be positive, got -8");
}

TEST(ModelToml, AbsurdlyLargeNumbers) {
  EXPECT_EQ(tomlError(modelWith({{"vocab_size", "vocab_size = 2147483648"}})),
            "m.toml:6:14: error: vocab_size must be at most 2147483647, got "
            "2147483648");
  EXPECT_EQ(tomlError(modelWith({{"n_layer", "n_layer = 2147483647"}})), "");
  // Every size fits, but 12·C² does not fit int64_t.
  EXPECT_EQ(tomlError(modelWith({{"n_head", "n_head = 1"},
                                 {"n_kv_head", "n_kv_head = 1"},
                                 {"n_embd", "n_embd = 1073741824"}})),
            "m.toml:5:10: error: n_embd is too large: the parameter count "
            "overflows a 64-bit integer");
}

TEST(ModelToml, HeadGeometry) {
  EXPECT_EQ(tomlError(modelWith({{"n_kv_head", "n_kv_head = 8"}})),
            "m.toml:4:13: error: n_kv_head must not exceed n_head (4), got 8");
  EXPECT_EQ(tomlError(modelWith({{"n_kv_head", "n_kv_head = 3"}})),
            "m.toml:4:13: error: n_kv_head must divide n_head (4), got 3");
  EXPECT_EQ(tomlError(modelWith({{"n_embd", "n_embd = 250"}})),
            "m.toml:5:10: error: n_embd must be a multiple of n_head (4), got "
            "250");
  EXPECT_EQ(tomlError(modelWith({{"n_embd", "n_embd = 12"}})),
            "m.toml:5:10: error: n_embd must split into heads of even "
            "dimension (RoPE rotates channel pairs), got head dim 12 / 4 = 3");
  // n_kv_head = 1 is multi-query attention.
  EXPECT_EQ(tomlError(modelWith({{"n_kv_head", "n_kv_head = 1"}})), "");
}

TEST(ModelToml, RealRanges) {
  EXPECT_EQ(tomlError(modelWith({}, "softcap = 0\n")),
            "m.toml:8:11: error: softcap must be a finite number greater than "
            "0, got 0");
  EXPECT_EQ(tomlError(modelWith({}, "softcap = inf\n")),
            "m.toml:8:11: error: softcap must be a finite number greater than "
            "0, got inf");
  EXPECT_EQ(tomlError(modelWith({}, "rope_base = 1.0\n")),
            "m.toml:8:13: error: rope_base must be a finite number greater "
            "than 1, got 1");
  EXPECT_EQ(tomlError(modelWith({}, "rope_base = nan\n")),
            "m.toml:8:13: error: rope_base must be a finite number greater "
            "than 1, got nan");
  EXPECT_EQ(tomlError(modelWith({}, "qk_scale = -1.2\n")),
            "m.toml:8:12: error: qk_scale must be a finite number greater "
            "than 0, got -1.2");
}

//===----------------------------------------------------------------------===//
// Bundle JSON config
//===----------------------------------------------------------------------===//

std::string goldenPath(StringRef bundle) {
  return (StringRef(GPTC_SOURCE_DIR) + "/tests/golden/" + bundle +
          "/golden.json")
      .str();
}

/// The parsed golden.json of `bundle`.
llvm::json::Object readGolden(StringRef bundle) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(goldenPath(bundle));
  if (!buffer) {
    ADD_FAILURE() << "cannot read " << goldenPath(bundle);
    return {};
  }
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    ADD_FAILURE() << llvm::toString(json.takeError());
    return {};
  }
  return std::move(*json->getAsObject());
}

llvm::json::Object goldenConfig(StringRef bundle) {
  return std::move(*readGolden(bundle).getObject("config"));
}

/// The classic-gqa config with `key` set to `value` (or removed if null).
std::string bundleError(StringRef key, llvm::json::Value value) {
  llvm::json::Object config = goldenConfig("classic-gqa");
  if (value.kind() == llvm::json::Value::Null)
    config.erase(key);
  else
    config[key] = std::move(value);
  return errorOf(parseBundleConfig(config, "b/golden.json"));
}

TEST(BundleConfig, ParsesClassicGqa) {
  llvm::json::Object golden = readGolden("classic-gqa");
  llvm::Expected<GPTConfig> parsed =
      parseBundleConfig(*golden.getObject("config"), goldenPath("classic-gqa"));
  ASSERT_PARSED(parsed);
  const GPTConfig &config = *parsed;
  EXPECT_EQ(config.name, "classic-gqa");
  EXPECT_EQ(config.nLayer, 2);
  EXPECT_EQ(config.nHead, 4);
  EXPECT_EQ(config.nKvHead, 2);
  EXPECT_EQ(config.nEmbd, 64);
  EXPECT_EQ(config.vocabSize, 97);
  EXPECT_EQ(config.sequenceLen, 16);
  EXPECT_EQ(config.softcap, 15.0);
  EXPECT_EQ(config.ropeBase, 10000.0);
  EXPECT_TRUE(config.ropeBf16);
  EXPECT_EQ(config.qkScale, 1.0);
  EXPECT_EQ(config.rmsEps, 1.1920929e-07f);
  EXPECT_EQ(config.headDim(), 16);
  EXPECT_EQ(config.groupSize(), 2);
  EXPECT_EQ(config.numParameters(),
            *golden.getObject("params")->getInteger("total"));
}

TEST(BundleConfig, ParsesClassicMhaFp32Rope) {
  llvm::json::Object golden = readGolden("classic-mha-fp32rope");
  llvm::Expected<GPTConfig> parsed = parseBundleConfig(
      *golden.getObject("config"), goldenPath("classic-mha-fp32rope"));
  ASSERT_PARSED(parsed);
  const GPTConfig &config = *parsed;
  EXPECT_EQ(config.name, "classic-mha-fp32rope");
  EXPECT_EQ(config.nLayer, 2);
  EXPECT_EQ(config.nHead, 2);
  EXPECT_EQ(config.nKvHead, 2);
  EXPECT_EQ(config.nEmbd, 64);
  EXPECT_EQ(config.vocabSize, 128);
  EXPECT_EQ(config.sequenceLen, 64);
  EXPECT_FALSE(config.ropeBf16);
  EXPECT_EQ(config.headDim(), 32);
  EXPECT_EQ(config.groupSize(), 1);
  EXPECT_EQ(config.numParameters(),
            *golden.getObject("params")->getInteger("total"));
}

TEST(BundleConfig, NameFallsBackToFileStem) {
  llvm::Expected<GPTConfig> config =
      parseBundleConfig(goldenConfig("classic-gqa"), "golden.json");
  ASSERT_PARSED(config);
  EXPECT_EQ(config->name, "golden");
}

TEST(BundleConfig, HonoursOptionalFields) {
  llvm::json::Object config = goldenConfig("classic-gqa");
  config["window_pattern"] = "LLLL";
  config["variant"] = "current";
  config["qk_scale"] = 1.2;
  config["softcap"] = 20; // An integer is a valid real.
  config["rms_eps"] = 1e-5;
  config["pad_vocab_to"] = 97;
  config["rope_bf16"] = false;
  llvm::Expected<GPTConfig> parsed = parseBundleConfig(config, "b/golden.json");
  ASSERT_PARSED(parsed);
  EXPECT_EQ(parsed->qkScale, 1.2);
  EXPECT_EQ(parsed->softcap, 20.0);
  EXPECT_EQ(parsed->rmsEps, 1e-5f);
  EXPECT_FALSE(parsed->ropeBf16);

  // Only the sizes are required.
  llvm::json::Object minimal;
  for (StringRef key : {"n_layer", "n_head", "n_kv_head", "n_embd",
                        "vocab_size", "sequence_len"})
    minimal[key] = *config.get(key);
  llvm::Expected<GPTConfig> defaults =
      parseBundleConfig(minimal, "b/golden.json");
  ASSERT_PARSED(defaults);
  EXPECT_EQ(defaults->softcap, 15.0);
  EXPECT_EQ(defaults->rmsEps, 1.1920929e-07f);
}

TEST(BundleConfig, RefusesUnsupportedFeatures) {
  EXPECT_EQ(bundleError("window_pattern", "SSSL"),
            "b/golden.json: error: config field 'window_pattern': sliding "
            "windows ('S') are not supported yet");
  EXPECT_EQ(bundleError("value_embeds", true),
            "b/golden.json: error: config field 'value_embeds': true is not "
            "supported yet (must be false)");
  EXPECT_EQ(bundleError("smear", true),
            "b/golden.json: error: config field 'smear': true is not "
            "supported yet (must be false)");
  EXPECT_EQ(bundleError("backout", true),
            "b/golden.json: error: config field 'backout': true is not "
            "supported yet (must be false)");
  EXPECT_EQ(bundleError("layer_lambdas", true),
            "b/golden.json: error: config field 'layer_lambdas': true is not "
            "supported yet (must be false)");
  EXPECT_EQ(bundleError("pad_vocab_to", 64),
            "b/golden.json: error: config field 'pad_vocab_to': padding "
            "vocab_size 97 to a multiple of 64 is not supported yet");
}

TEST(BundleConfig, RejectsMalformedBundleFields) {
  EXPECT_EQ(bundleError("window_pattern", "LXL"),
            "b/golden.json: error: config field 'window_pattern': must be "
            "\"none\" or a string of 'L' and 'S' characters, got \"LXL\"");
  EXPECT_EQ(bundleError("window_pattern", ""),
            "b/golden.json: error: config field 'window_pattern': must be "
            "\"none\" or a string of 'L' and 'S' characters, got \"\"");
  EXPECT_EQ(bundleError("window_pattern", 3),
            "b/golden.json: error: config field 'window_pattern': must be "
            "\"none\" or a string of 'L' and 'S' characters, got 3");
  EXPECT_EQ(bundleError("smear", "no"),
            "b/golden.json: error: config field 'smear': must be a boolean, "
            "got a string");
  EXPECT_EQ(bundleError("pad_vocab_to", 0),
            "b/golden.json: error: config field 'pad_vocab_to': must be "
            "positive, got 0");
  EXPECT_EQ(bundleError("pad_vocab_to", 1.5),
            "b/golden.json: error: config field 'pad_vocab_to': must be an "
            "integer, got 1.5");
  EXPECT_EQ(bundleError("rms_eps", "bf16"),
            "b/golden.json: error: config field 'rms_eps': must be \"f32\" "
            "or a number, got \"bf16\"");
  EXPECT_EQ(bundleError("rms_eps", -1e-6),
            "b/golden.json: error: config field 'rms_eps': must be a finite "
            "number greater than 0, got -9.99999997e-07");
  EXPECT_EQ(bundleError("variant", "future"),
            "b/golden.json: error: config field 'variant': must be "
            "\"classic\" or \"current\", got \"future\"");
}

TEST(BundleConfig, RejectsUnknownAndMissingFields) {
  EXPECT_EQ(bundleError("n_heads", 4),
            "b/golden.json: error: config field 'n_heads': unknown field; did "
            "you mean 'n_head'? allowed: n_layer, n_head, n_kv_head, n_embd, "
            "vocab_size, sequence_len, softcap, rope_base, rope_bf16, "
            "qk_scale, window_pattern, value_embeds, smear, backout, "
            "layer_lambdas, pad_vocab_to, rms_eps, variant");
  EXPECT_EQ(bundleError("n_embd", nullptr),
            "b/golden.json: error: config field 'n_embd': required field is "
            "missing");
}

TEST(BundleConfig, SharesTomlValidation) {
  EXPECT_EQ(bundleError("n_head", "4"),
            "b/golden.json: error: config field 'n_head': must be an integer, "
            "got a string");
  EXPECT_EQ(bundleError("n_layer", 2.5),
            "b/golden.json: error: config field 'n_layer': must be an "
            "integer, got 2.5");
  EXPECT_EQ(bundleError("rope_bf16", 1),
            "b/golden.json: error: config field 'rope_bf16': must be a "
            "boolean, got 1");
  EXPECT_EQ(bundleError("n_kv_head", 3),
            "b/golden.json: error: config field 'n_kv_head': must divide "
            "n_head (4), got 3");
  EXPECT_EQ(bundleError("vocab_size", 0),
            "b/golden.json: error: config field 'vocab_size': must be "
            "positive, got 0");
  EXPECT_EQ(bundleError("softcap", -15.0),
            "b/golden.json: error: config field 'softcap': must be a finite "
            "number greater than 0, got -15");
}

//===----------------------------------------------------------------------===//
// Example models (the lit inputs in tests/frontend/ run through lit itself)
//===----------------------------------------------------------------------===//

TEST(LitInputs, ExampleModelsMatchTheirBundles) {
  for (StringRef bundle : {"classic-gqa", "classic-mha-fp32rope"}) {
    SCOPED_TRACE(bundle.str());
    std::string tomlPath = (StringRef(GPTC_SOURCE_DIR) +
                            "/tests/frontend/models/" + bundle + ".toml")
                               .str();
    EXPECT_EQ(
        summaryOf(parseModelToml(tomlPath)),
        summaryOf(parseBundleConfig(goldenConfig(bundle), goldenPath(bundle))));
  }
}

} // namespace
