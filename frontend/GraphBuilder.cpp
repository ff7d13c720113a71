//===- GraphBuilder.cpp - nanochat GPT → gptc tensor graph ----------------===//
//
// The forward pass of nanochat's classic GPT, op by op (model-nanochat.md
// §3, §11). Shapes use llm.c letters: B batch, T time, C channels, H query
// heads, Hkv key/value heads, D head dim, V vocabulary.
//
//===----------------------------------------------------------------------===//

#include "frontend/GraphBuilder.h"

#include "backends/common/Program.h"
#include "ir/GptcAttrs.h"
#include "ir/GptcOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/JSON.h"

#include <cmath>

using namespace mlir;
using namespace gptc;

namespace {

/// Builds the forward function one block at a time.
class ForwardBuilder {
public:
  ForwardBuilder(MLIRContext &ctx, const GPTConfig &config, int64_t B,
                 int64_t T, StringRef funcName)
      : ctx(ctx), b(&ctx), cfg(config), B(B), T(T), funcName(funcName) {}

  OwningOpRef<ModuleOp> build();

private:
  /// A location naming a part of the model, e.g. "transformer.h.0.attn.c_q".
  Location at(const Twine &name) { return NameLoc::get(b.getStringAttr(name)); }
  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getF32Type());
  }
  /// Declares a parameter argument named as in nanochat's state_dict, in
  /// transformer block `layer` if it has one.
  void declareParam(const std::string &name, ArrayRef<int64_t> shape,
                    std::optional<int64_t> layer = std::nullopt) {
    paramNames.push_back(name);
    paramTypes.push_back(f32(shape));
    paramLayers.push_back(layer);
  }
  Value param(const std::string &name) { return params.lookup(name); }
  Value rmsNorm(Value x, const Twine &where) {
    return b.create<RMSNormOp>(at(where), x, b.getF32FloatAttr(cfg.rmsEps));
  }
  Value linear(Value x, const std::string &weight) {
    // The op is named after its weight minus ".weight".
    StringRef layer = StringRef(weight).drop_back(strlen(".weight"));
    return b.create<LinearOp>(at(layer), x, param(weight));
  }

  void declareParams();
  Value attention(Value x, const std::string &prefix);
  Value mlp(Value x, const std::string &prefix);

  MLIRContext &ctx;
  OpBuilder b;
  const GPTConfig &cfg;
  int64_t B, T;
  StringRef funcName;
  std::vector<std::string> paramNames;
  SmallVector<Type> paramTypes;
  SmallVector<std::optional<int64_t>> paramLayers;
  llvm::StringMap<Value> params;
};

void ForwardBuilder::declareParams() {
  for (const ParameterShape &param : parameterShapes(cfg))
    declareParam(param.name, param.shape, param.layer);
}

/// Causal self-attention on u = rms(x): q/k/v projections, RoPE, QK-norm,
/// scaled dot-product attention (GQA), output projection.
Value ForwardBuilder::attention(Value u, const std::string &prefix) {
  int64_t H = cfg.nHead, Hkv = cfg.nKvHead, D = cfg.headDim();
  Value q = linear(u, prefix + ".c_q.weight"); // [B, T, H·D]
  Value k = linear(u, prefix + ".c_k.weight"); // [B, T, Hkv·D]
  Value v = linear(u, prefix + ".c_v.weight"); // [B, T, Hkv·D]
  Location heads = at(prefix + ".split_heads");
  q = b.create<ReshapeOp>(heads, f32({B, T, H, D}), q);
  k = b.create<ReshapeOp>(heads, f32({B, T, Hkv, D}), k);
  v = b.create<ReshapeOp>(heads, f32({B, T, Hkv, D}), v);

  auto rope = [&](Value x) {
    return b.create<RopeOp>(at(prefix + ".rope"), x,
                            b.getF32FloatAttr(cfg.ropeBase),
                            b.getBoolAttr(cfg.ropeBf16),
                            /*inverse=*/b.getBoolAttr(false));
  };
  q = rmsNorm(rope(q), prefix + ".q_norm"); // QK-norm comes after RoPE
  k = rmsNorm(rope(k), prefix + ".k_norm");
  if (cfg.qkScale != 1.0) {
    q = b.create<ScaleOp>(at(prefix + ".q_scale"), q,
                          b.getF32FloatAttr(cfg.qkScale));
    k = b.create<ScaleOp>(at(prefix + ".k_scale"), k,
                          b.getF32FloatAttr(cfg.qkScale));
  }

  FloatAttr scale = b.getF32FloatAttr(1.0 / std::sqrt(double(D)));
  Value s = b.create<AttnScoresOp>(at(prefix + ".scores"), q, k, scale);
  s = b.create<CausalMaskOp>(at(prefix + ".causal_mask"), s); // [B, H, T, T]
  Value p = b.create<SoftmaxOp>(at(prefix + ".softmax"), s);
  Value y = b.create<AttnApplyOp>(at(prefix + ".apply"), p, v); // [B, T, H, D]
  y = b.create<ReshapeOp>(at(prefix + ".merge_heads"), f32({B, T, cfg.nEmbd}),
                          y);
  return linear(y, prefix + ".c_proj.weight");
}

/// nanochat's MLP: relu(u Wfcᵀ)² Wprojᵀ with hidden width 4C.
Value ForwardBuilder::mlp(Value u, const std::string &prefix) {
  Value h = linear(u, prefix + ".c_fc.weight"); // [B, T, 4C]
  h = b.create<ReluSquareOp>(at(prefix + ".relu_square"), h);
  return linear(h, prefix + ".c_proj.weight"); // [B, T, C]
}

OwningOpRef<ModuleOp> ForwardBuilder::build() {
  ctx.loadDialect<GptcDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(at(cfg.name));
  module->getOperation()->setAttr(kConfigAttrName,
                                  b.getStringAttr(configToJson(cfg)));
  declareParams();

  auto tokensType = RankedTensorType::get({B, T}, b.getI32Type());
  SmallVector<Type> argTypes{tokensType, tokensType};
  llvm::append_range(argTypes, paramTypes);
  SmallVector<Type> resultTypes{f32({B, T, cfg.vocabSize}), f32({})};

  b.setInsertionPointToEnd(module->getBody());
  auto func = b.create<func::FuncOp>(at(cfg.name), funcName,
                                     b.getFunctionType(argTypes, resultTypes));
  auto ioName = [&](StringRef name) {
    return b.getNamedAttr("gptc.name", b.getStringAttr(name));
  };
  func.setArgAttrs(0, {ioName(buffers::kTokens)});
  func.setArgAttrs(1, {ioName(buffers::kTargets)});
  func.setResultAttrs(0, {ioName(buffers::kLogits)});
  func.setResultAttrs(1, {ioName(buffers::kLoss)});
  Block *entry = func.addEntryBlock();
  entry->getArgument(0).setLoc(at(buffers::kTokens));
  entry->getArgument(1).setLoc(at(buffers::kTargets));
  for (auto [i, name] : llvm::enumerate(paramNames)) {
    func.setArgAttr(i + 2, kParamAttrName, b.getStringAttr(name));
    if (paramLayers[i])
      setArgLayer(func, i + 2, *paramLayers[i]);
    params[name] = entry->getArgument(i + 2);
    params[name].setLoc(at(name));
  }
  b.setInsertionPointToStart(entry);
  Value tokens = entry->getArgument(0), targets = entry->getArgument(1);

  Value x = b.create<EmbeddingOp>(at("transformer.wte"),
                                  param("transformer.wte.weight"), tokens);
  x = rmsNorm(x, "transformer.wte.norm"); // [B, T, C]
  for (int64_t i = 0; i < cfg.nLayer; ++i) {
    std::string h = "transformer.h." + std::to_string(i);
    Operation *before = &entry->back();
    Value attn = attention(rmsNorm(x, h + ".attn.norm"), h + ".attn");
    x = b.create<AddOp>(at(h + ".attn.residual"), x, attn);
    Value ffn = mlp(rmsNorm(x, h + ".mlp.norm"), h + ".mlp");
    x = b.create<AddOp>(at(h + ".mlp.residual"), x, ffn);
    // Every op of the block carries its index (passes read it, not names).
    for (Operation *op = before->getNextNode(); op; op = op->getNextNode())
      setLayer(op, i);
  }
  x = rmsNorm(x, "transformer.norm_f");
  Value logits = linear(x, "lm_head.weight"); // [B, T, V]
  logits = b.create<SoftcapOp>(at("softcap"), logits,
                               b.getF32FloatAttr(cfg.softcap));
  Value loss = b.create<CrossEntropyOp>(at("loss"), logits, targets,
                                        b.getI32IntegerAttr(-1));
  b.create<func::ReturnOp>(at("loss"), ValueRange{logits, loss});
  return module;
}

} // namespace

OwningOpRef<ModuleOp> gptc::buildForwardGraph(MLIRContext &ctx,
                                              const GPTConfig &config,
                                              int64_t batch, int64_t seqLen,
                                              StringRef funcName) {
  return ForwardBuilder(ctx, config, batch, seqLen, funcName).build();
}

std::string gptc::configToJson(const GPTConfig &config) {
  llvm::json::Object object{
      {"name", config.name},
      {"n_layer", config.nLayer},
      {"n_head", config.nHead},
      {"n_kv_head", config.nKvHead},
      {"n_embd", config.nEmbd},
      {"vocab_size", config.vocabSize},
      {"sequence_len", config.sequenceLen},
      {"softcap", config.softcap},
      {"rope_base", config.ropeBase},
      {"rope_bf16", config.ropeBf16},
      {"qk_scale", config.qkScale},
      {"rms_eps", double(config.rmsEps)},
  };
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::json::Value(std::move(object));
  return out;
}
