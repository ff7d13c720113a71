//===- MakeDecode.cpp - gptc-make-decode ----------------------------------===//
//
// A forward function over [R, T] tokens → the same computation for T new
// tokens per row that continue a cached prefix: RoPE at the rows' positions,
// keys and values written into an explicit KV cache, attention over the
// cached prefix, lengths advanced once per call.
//
//===----------------------------------------------------------------------===//

#include "backends/common/Program.h"
#include "ir/GptcAttrs.h"
#include "passes/KernelABI.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/Support/JSON.h"

namespace gptc {
#define GEN_PASS_DEF_MAKEDECODE
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

/// The index of the argument or result named `name` (gptc.name), if any.
static std::optional<unsigned> findNamed(func::FuncOp func, StringRef name,
                                         bool result) {
  unsigned count = result ? func.getNumResults() : func.getNumArguments();
  for (unsigned i = 0; i < count; ++i) {
    auto attr = result
                    ? func.getResultAttrOfType<StringAttr>(i, kIONameAttrName)
                    : func.getArgAttrOfType<StringAttr>(i, kIONameAttrName);
    if (attr && attr.getValue() == name)
      return i;
  }
  return std::nullopt;
}

static NamedAttribute ioName(OpBuilder &b, StringRef name) {
  return b.getNamedAttr(kIONameAttrName, b.getStringAttr(name));
}

class DecodeRewriter {
public:
  DecodeRewriter(func::FuncOp func, int64_t capacity, Type cacheElement)
      : func(func), capacity(capacity), cacheElement(cacheElement),
        b(func.getContext()) {}

  LogicalResult run();

private:
  func::FuncOp func;
  int64_t capacity;
  Type cacheElement;
  OpBuilder b;
};

LogicalResult DecodeRewriter::run() {
  std::optional<unsigned> tokensIndex = findNamed(func, buffers::kTokens, false);
  std::optional<unsigned> logitsIndex = findNamed(func, buffers::kLogits, true);
  if (!tokensIndex || !logitsIndex)
    return func.emitError("expects an argument named \"tokens\" and a result "
                          "named \"logits\"");
  Block &body = func.getBody().front();
  for (Operation &op : body)
    if (isa<AttnScoresOp, CausalMaskOp>(op))
      return op.emitError("expects fused attention; run "
                          "gptc-fuse-causal-attention first");
  SmallVector<CausalAttentionOp> attentions(body.getOps<CausalAttentionOp>());
  if (attentions.empty())
    return func.emitError("expects at least one causal attention");

  auto tokens =
      cast<RankedTensorType>(func.getArgument(*tokensIndex).getType());
  int64_t R = tokens.getDimSize(0), T = tokens.getDimSize(1);
  int64_t L = attentions.size();
  ArrayRef<int64_t> k = cast<RankedTensorType>(attentions[0].getK().getType())
                            .getShape(); // [R, T, Hkv, D]
  if (capacity < T)
    return func.emitError("a KV cache of ")
           << capacity << " slots per row cannot hold a chunk of " << T
           << " tokens";

  // The cache and the lengths join the arguments, after the tokens.
  auto cacheType =
      RankedTensorType::get({L, R, capacity, k[2], k[3]}, cacheElement);
  auto lengthsType = RankedTensorType::get({R}, b.getI32Type());
  unsigned at = *tokensIndex + 1;
  func.insertArgument(at, cacheType, b.getDictionaryAttr(ioName(b, buffers::kKCache)),
                      func.getLoc());
  func.insertArgument(at + 1, cacheType,
                      b.getDictionaryAttr(ioName(b, buffers::kVCache)), func.getLoc());
  func.insertArgument(at + 2, lengthsType,
                      b.getDictionaryAttr(ioName(b, buffers::kLengths)), func.getLoc());
  Value kCache = func.getArgument(at), vCache = func.getArgument(at + 1);
  Value lengths = func.getArgument(at + 2);

  // RoPE at the rows' positions.
  for (RopeOp rope : llvm::make_early_inc_range(body.getOps<RopeOp>())) {
    b.setInsertionPoint(rope);
    Value rotated =
        b.create<RopeAtOp>(rope.getLoc(), rope.getType(), rope.getX(), lengths,
                           rope.getBaseAttr(), rope.getRoundBf16Attr());
    copyLayer(rope, rotated.getDefiningOp());
    rope.replaceAllUsesWith(rotated);
    rope.erase();
  }
  // Attention: write the new keys and values, attend over the prefix.
  for (auto [layer, attention] : llvm::enumerate(attentions)) {
    if (!attention.getLse().use_empty())
      return attention.emitError("the log-sum-exp is used; decoding does not "
                                 "compute it");
    b.setInsertionPoint(attention);
    Location loc = attention.getLoc();
    IntegerAttr layerAttr = b.getI64IntegerAttr(layer);
    kCache = b.create<KVAppendOp>(loc, cacheType, kCache, lengths,
                                  attention.getK(), layerAttr);
    vCache = b.create<KVAppendOp>(loc, cacheType, vCache, lengths,
                                  attention.getV(), layerAttr);
    Value out = b.create<CachedAttentionOp>(
        loc, attention.getOut().getType(), attention.getQ(), kCache, vCache,
        lengths, layerAttr, attention.getScaleAttr());
    for (Value created : {kCache, vCache, out})
      copyLayer(attention, created.getDefiningOp());
    attention.getOut().replaceAllUsesWith(out);
    attention.erase();
  }

  // Return the new tokens' logits, the cache and the advanced lengths.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value logits = ret.getOperand(*logitsIndex);
  b.setInsertionPoint(ret);
  Value advanced =
      b.create<KVAdvanceOp>(NameLoc::get(b.getStringAttr("kv_cache.advance")),
                            lengthsType, lengths, b.getI64IntegerAttr(T));
  b.create<func::ReturnOp>(ret.getLoc(),
                           ValueRange{logits, kCache, vCache, advanced});
  ret.erase();
  SmallVector<Type> resultTypes = {logits.getType(), cacheType, cacheType,
                                   lengthsType};
  func.setType(b.getFunctionType(func.getArgumentTypes(), resultTypes));
  SmallVector<DictionaryAttr> resultAttrs;
  for (StringRef name : {buffers::kLogits, buffers::kKCache, buffers::kVCache,
                          buffers::kLengths})
    resultAttrs.push_back(b.getDictionaryAttr(ioName(b, name)));
  func.setAllResultAttrs(resultAttrs);

  // What only fed the loss goes, and with it the targets.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (isOpTriviallyDead(&op))
      op.erase();
  if (std::optional<unsigned> targets = findNamed(func, buffers::kTargets, false)) {
    if (!func.getArgument(*targets).use_empty())
      return func.emitError("the targets are used by more than the loss");
    func.eraseArgument(*targets);
  }
  return success();
}

struct MakeDecode : gptc::impl::MakeDecodeBase<MakeDecode> {
  using MakeDecodeBase::MakeDecodeBase;

  /// The model's sequence_len, from the module's gptc.config.
  std::optional<int64_t> configSequenceLen() {
    auto config = getOperation()->getAttrOfType<StringAttr>(kConfigAttrName);
    if (!config)
      return std::nullopt;
    llvm::Expected<llvm::json::Value> json =
        llvm::json::parse(config.getValue());
    if (!json) {
      llvm::consumeError(json.takeError());
      return std::nullopt;
    }
    const llvm::json::Object *object = json->getAsObject();
    return object ? object->getInteger("sequence_len") : std::nullopt;
  }

  void runOnOperation() override {
    // Without a capacity the cache holds the model's whole context.
    int64_t capacity = this->capacity;
    if (capacity == 0)
      capacity = configSequenceLen().value_or(0);
    if (capacity <= 0) {
      getOperation().emitError("gptc-make-decode needs capacity > 0, or a "
                               "module gptc.config with a positive "
                               "sequence_len to default to");
      return signalPassFailure();
    }
    Builder b(&getContext());
    Type element =
        kvDtype == FloatFormat::BF16 ? Type(b.getBF16Type()) : b.getF32Type();
    SmallVector<func::FuncOp> funcs(getOperation().getOps<func::FuncOp>());
    for (func::FuncOp func : funcs)
      if (!func.isExternal() &&
          failed(DecodeRewriter(func, capacity, element).run()))
        return signalPassFailure();
  }
};

} // namespace
