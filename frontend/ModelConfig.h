//===- ModelConfig.h - Model definitions: TOML and bundle configs -*- C++
//-*-===//
//
// The model-definition front door of gptc: parses and validates a nanochat
// GPT hyperparameter set into a GPTConfig, either from a TOML model file or
// from the "config" object of a reference bundle's golden.json.
//
// TOML model file format:
//
//   [model]              # nanochat classic
//   n_layer = 4          # L, transformer blocks
//   n_head = 4           # H, query heads
//   n_kv_head = 4        # Hkv; < n_head: grouped-query attention
//   n_embd = 256         # C, residual width
//   vocab_size = 256     # V
//   sequence_len = 256   # maximum T
//   softcap = 15.0       # optional, default 15 (float or integer)
//   rope_base = 10000.0  # optional, default 10000 (float or integer)
//   rope_bf16 = false    # optional, default false
//   qk_scale = 1.0       # optional, default 1 (float or integer)
//
//   [train]              # optional, reserved: must be a table, ignored
//   [decode]             # optional, reserved: must be a table, ignored
//
// Any other top-level key or [model] key is an error. Sizes must be integers
// in [1, 2^31 - 1]; n_embd must divide into n_head heads of even dimension
// (RoPE rotates channel pairs); n_head must be a multiple of n_kv_head;
// softcap and qk_scale must be positive, rope_base greater than 1.
//
// Every error is returned as a single-line, clang-style diagnostic that can
// be printed as is:
//
//   <path>:<line>:<col>: error: <message>              (TOML model files)
//   <path>: error: config field '<key>': <message>     (bundle configs)
//   error: cannot open '<path>': <reason>              (unreadable files)
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_FRONTEND_MODELCONFIG_H
#define GPTC_FRONTEND_MODELCONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class raw_ostream;
namespace json {
class Object;
} // namespace json
} // namespace llvm

namespace gptc {

/// Hyperparameters of a nanochat GPT, in llm.c letters.
struct GPTConfig {
  // clang-format off
  std::string name;              // model name (file stem of the TOML definition, or bundle directory)
  int64_t nLayer = 0;            // L
  int64_t nHead = 0;             // H, query heads
  int64_t nKvHead = 0;           // Hkv, key/value heads (H % Hkv == 0; < H is GQA, 1 is MQA)
  int64_t nEmbd = 0;             // C
  int64_t vocabSize = 0;         // V
  int64_t sequenceLen = 0;       // maximum T
  double softcap = 15.0;         // logits = softcap·tanh(raw/softcap)
  double ropeBase = 10000.0;     // RoPE θ
  bool ropeBf16 = false;         // round the RoPE cos/sin tables to bf16 (nanochat classic)
  double qkScale = 1.0;          // factor on q and k after QK-norm (1.2 in nanochat "current")
  float rmsEps = 1.1920929e-07f; // RMSNorm epsilon (float32 machine epsilon)

  int64_t headDim() const { return nEmbd / nHead; }     // D
  int64_t groupSize() const { return nHead / nKvHead; } // G, query heads per key/value head
  // clang-format on

  /// Number of trainable parameters: untied token embedding and lm_head
  /// (2·V·C) plus, per layer, the q/k/v/o projections (2·C² + 2·C·Hkv·D) and
  /// the MLP (8·C²). The config must be valid (validation rejects configs
  /// whose count overflows int64_t).
  int64_t numParameters() const;
};

/// One parameter: its nanochat state_dict name and shape.
struct ParameterShape {
  std::string name;
  std::vector<int64_t> shape;
  /// The transformer block it belongs to, if any.
  std::optional<int64_t> layer;
};

/// Every parameter of the model `config` describes, in nanochat's
/// state_dict order: transformer.wte.weight [V, C], per layer i the
/// transformer.h.<i>.attn.c_q/c_k/c_v/c_proj and mlp.c_fc/c_proj weights
/// ([out, in]), lm_head.weight [V, C].
std::vector<ParameterShape> parameterShapes(const GPTConfig &config);

/// Reads, parses and validates the TOML model file at `path`. The model name
/// is the file stem of `path`.
llvm::Expected<GPTConfig> parseModelToml(llvm::StringRef path);

/// Parses and validates TOML model text; `displayPath` names it in
/// diagnostics and gives the model name (its file stem).
llvm::Expected<GPTConfig> parseModelTomlString(llvm::StringRef text,
                                               llvm::StringRef displayPath);

/// Validates the "config" object of a reference bundle's golden.json at
/// `displayPath`. The model name is the bundle's directory name (the parent
/// directory of `displayPath`), or the file stem if it has none. Features
/// gptc does not implement yet (sliding windows, value embeddings, smear,
/// backout, layer lambdas, vocab padding) are refused, naming the field.
llvm::Expected<GPTConfig> parseBundleConfig(const llvm::json::Object &config,
                                            llvm::StringRef displayPath);

/// Prints a readable multi-line summary of `config`: every field, the derived
/// D and G, and the parameter count.
void printConfig(const GPTConfig &config, llvm::raw_ostream &os);

} // namespace gptc

#endif // GPTC_FRONTEND_MODELCONFIG_H
