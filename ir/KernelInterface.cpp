//===- KernelInterface.cpp - each op's runtime kernel ---------------------===//
//
// KernelOpInterface for every op that runs as one runtime kernel: which
// kernel of backends/Kernels.def, and its sizes and scalars by the names the
// kernel's parameters have there. gptc-lower-to-kernels puts them in the
// kernel's order (ir/KernelTable.h); the verifier of `gptc.kernel` checks a
// call against the kernel's signature.
//
//===----------------------------------------------------------------------===//

#include "ir/GptcOps.h"
#include "ir/KernelTable.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace gptc;

static RankedTensorType tensorOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Splits a shape into (product of all but the last dimension, last one).
static std::pair<int64_t, int64_t> rowsAndCols(ShapedType type) {
  ArrayRef<int64_t> shape = type.getShape();
  if (shape.empty())
    return {1, 1};
  int64_t rows = 1;
  for (int64_t d : shape.drop_back())
    rows *= d;
  return {rows, shape.back()};
}

static IntegerAttr i32(MLIRContext *ctx, int64_t value) {
  return Builder(ctx).getI32IntegerAttr(value);
}

/// The sizes of an elementwise kernel over `type`.
static KernelDims elementwiseDims(ShapedType type) {
  return {{"n", type.getNumElements()}};
}

/// The sizes of a row-wise kernel over `type`.
static KernelDims rowDims(ShapedType type) {
  auto [rows, cols] = rowsAndCols(type);
  return {{"rows", rows}, {"cols", cols}};
}

/// The sizes of x [..., in] · w [out, in]ᵀ and of its gradient.
static KernelDims linearDims(Value x, Value weight) {
  auto [rows, in] = rowsAndCols(tensorOf(x));
  return {{"rows", rows}, {"in", in}, {"out", tensorOf(weight).getDimSize(0)}};
}

/// The sizes of an attention kernel: q [B, T, H, D] and k [B, T, Hkv, D].
static KernelDims attentionDims(Value q, Value k) {
  ArrayRef<int64_t> shape = tensorOf(q).getShape();
  return {{"B", shape[0]},
          {"T", shape[1]},
          {"H", shape[2]},
          {"Hkv", tensorOf(k).getDimSize(2)},
          {"D", shape[3]}};
}

/// The sizes of a lm_head loss: x [rows, C] and w [V, C].
static KernelDims lmHeadLossDims(Value x, Value weight) {
  auto [rows, channels] = rowsAndCols(tensorOf(x));
  return {
      {"rows", rows}, {"C", channels}, {"V", tensorOf(weight).getDimSize(0)}};
}

/// The sizes of a cache [L, R, Cap, Hkv, D].
static KernelDims cacheDims(Value cache) {
  ArrayRef<int64_t> shape = tensorOf(cache).getShape();
  return {{"L", shape[0]},
          {"R", shape[1]},
          {"Cap", shape[2]},
          {"Hkv", shape[3]},
          {"D", shape[4]}};
}

/// Whether a KV cache holds bfloat16.
static bool isBf16Cache(Value cache) {
  return tensorOf(cache).getElementType().isBF16();
}

//===----------------------------------------------------------------------===//
// The forward pass
//===----------------------------------------------------------------------===//

StringRef EmbeddingOp::getKernelName() { return "embedding"; }

KernelDims EmbeddingOp::getKernelDims() {
  RankedTensorType table = tensorOf(getTable());
  return {{"n", tensorOf(getIds()).getNumElements()},
          {"V", table.getDimSize(0)},
          {"C", table.getDimSize(1)}};
}

StringRef RMSNormOp::getKernelName() { return "rmsNorm"; }

KernelDims RMSNormOp::getKernelDims() { return rowDims(getType()); }

KernelScalars RMSNormOp::getKernelScalars() { return {{"eps", getEpsAttr()}}; }

StringRef LinearOp::getKernelName() {
  return getPrecision() == "bf16" ? "linearBf16" : "linear";
}

KernelDims LinearOp::getKernelDims() { return linearDims(getX(), getWeight()); }

StringRef RopeOp::getKernelName() { return "rope"; }

KernelDims RopeOp::getKernelDims() {
  ArrayRef<int64_t> shape = getType().getShape();
  return {{"B", shape[0]}, {"T", shape[1]}, {"H", shape[2]}, {"D", shape[3]}};
}

KernelScalars RopeOp::getKernelScalars() {
  return {{"base", getBaseAttr()},
          {"roundBf16", i32(getContext(), getRoundBf16())},
          {"inverse", i32(getContext(), getInverse())}};
}

StringRef AttnScoresOp::getKernelName() { return "attnScores"; }

KernelDims AttnScoresOp::getKernelDims() {
  return attentionDims(getQ(), getK());
}

KernelScalars AttnScoresOp::getKernelScalars() {
  return {{"scale", getScaleAttr()}};
}

StringRef CausalMaskOp::getKernelName() { return "causalMask"; }

KernelDims CausalMaskOp::getKernelDims() {
  auto [rows, cols] = rowsAndCols(getType()); // [B, H, T, T]
  return {{"rows", rows / cols}, {"T", cols}};
}

StringRef SoftmaxOp::getKernelName() { return "softmax"; }

KernelDims SoftmaxOp::getKernelDims() { return rowDims(getType()); }

StringRef AttnApplyOp::getKernelName() { return "attnApply"; }

KernelDims AttnApplyOp::getKernelDims() {
  ArrayRef<int64_t> o = getType().getShape();
  return {{"B", o[0]},
          {"T", o[1]},
          {"H", o[2]},
          {"Hkv", tensorOf(getV()).getDimSize(2)},
          {"D", o[3]}};
}

StringRef CausalAttentionOp::getKernelName() { return "causalAttention"; }

KernelDims CausalAttentionOp::getKernelDims() {
  return attentionDims(getQ(), getK());
}

KernelScalars CausalAttentionOp::getKernelScalars() {
  return {{"scale", getScaleAttr()}};
}

StringRef ScaleOp::getKernelName() { return "scale"; }

KernelDims ScaleOp::getKernelDims() { return elementwiseDims(getType()); }

KernelScalars ScaleOp::getKernelScalars() {
  return {{"factor", getFactorAttr()}};
}

StringRef AddOp::getKernelName() { return "add"; }

KernelDims AddOp::getKernelDims() { return elementwiseDims(getType()); }

StringRef ReluSquareOp::getKernelName() { return "reluSquare"; }

KernelDims ReluSquareOp::getKernelDims() { return elementwiseDims(getType()); }

StringRef SoftcapOp::getKernelName() { return "softcap"; }

KernelDims SoftcapOp::getKernelDims() { return elementwiseDims(getType()); }

KernelScalars SoftcapOp::getKernelScalars() { return {{"cap", getCapAttr()}}; }

StringRef CrossEntropyOp::getKernelName() { return "crossEntropy"; }

KernelDims CrossEntropyOp::getKernelDims() {
  auto [rows, vocab] = rowsAndCols(tensorOf(getLogits()));
  return {{"rows", rows}, {"V", vocab}};
}

KernelScalars CrossEntropyOp::getKernelScalars() {
  return {{"ignoreIndex", getIgnoreIndexAttr()}};
}

StringRef LmHeadLossOp::getKernelName() {
  return getPrecision() == "bf16" ? "lmHeadLossBf16" : "lmHeadLoss";
}

KernelDims LmHeadLossOp::getKernelDims() {
  return lmHeadLossDims(getX(), getWeight());
}

KernelScalars LmHeadLossOp::getKernelScalars() {
  return {{"cap", getCapAttr()}, {"ignoreIndex", getIgnoreIndexAttr()}};
}

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

StringRef FillOp::getKernelName() { return "fill"; }

KernelDims FillOp::getKernelDims() { return elementwiseDims(getType()); }

KernelScalars FillOp::getKernelScalars() { return {{"value", getValueAttr()}}; }

StringRef EmbeddingGradOp::getKernelName() { return "embeddingBackward"; }

KernelDims EmbeddingGradOp::getKernelDims() {
  return {{"n", tensorOf(getIds()).getNumElements()},
          {"V", getType().getDimSize(0)},
          {"C", getType().getDimSize(1)}};
}

StringRef RMSNormGradOp::getKernelName() { return "rmsNormBackward"; }

KernelDims RMSNormGradOp::getKernelDims() { return rowDims(getType()); }

KernelScalars RMSNormGradOp::getKernelScalars() {
  return {{"eps", getEpsAttr()}};
}

StringRef ReluSquareGradOp::getKernelName() { return "reluSquareBackward"; }

KernelDims ReluSquareGradOp::getKernelDims() {
  return elementwiseDims(getType());
}

StringRef LinearGradOp::getKernelName() {
  return getPrecision() == "bf16" ? "linearBackwardBf16" : "linearBackward";
}

KernelDims LinearGradOp::getKernelDims() {
  return linearDims(getX(), getWeight());
}

StringRef CausalAttentionGradOp::getKernelName() {
  return "causalAttentionBackward";
}

KernelDims CausalAttentionGradOp::getKernelDims() {
  return attentionDims(getQ(), getK());
}

KernelScalars CausalAttentionGradOp::getKernelScalars() {
  return {{"scale", getScaleAttr()}};
}

StringRef LmHeadLossGradOp::getKernelName() {
  return getPrecision() == "bf16" ? "lmHeadLossBackwardBf16"
                                  : "lmHeadLossBackward";
}

KernelDims LmHeadLossGradOp::getKernelDims() {
  return lmHeadLossDims(getX(), getWeight());
}

KernelScalars LmHeadLossGradOp::getKernelScalars() {
  return {{"cap", getCapAttr()}, {"ignoreIndex", getIgnoreIndexAttr()}};
}

//===----------------------------------------------------------------------===//
// Decoding
//===----------------------------------------------------------------------===//

StringRef RopeAtOp::getKernelName() { return "ropeAt"; }

KernelDims RopeAtOp::getKernelDims() {
  ArrayRef<int64_t> shape = getType().getShape();
  return {{"R", shape[0]}, {"T", shape[1]}, {"H", shape[2]}, {"D", shape[3]}};
}

KernelScalars RopeAtOp::getKernelScalars() {
  return {{"base", getBaseAttr()},
          {"roundBf16", i32(getContext(), getRoundBf16())}};
}

StringRef KVAppendOp::getKernelName() {
  return isBf16Cache(getCache()) ? "kvAppendBf16" : "kvAppend";
}

KernelDims KVAppendOp::getKernelDims() {
  KernelDims dims = cacheDims(getCache());
  dims.push_back({"T", tensorOf(getNewEntries()).getDimSize(1)});
  return dims;
}

KernelScalars KVAppendOp::getKernelScalars() {
  return {{"layer", i32(getContext(), getLayer())}};
}

StringRef CachedAttentionOp::getKernelName() {
  return isBf16Cache(getKCache()) ? "cachedAttentionBf16" : "cachedAttention";
}

KernelDims CachedAttentionOp::getKernelDims() {
  ArrayRef<int64_t> q = tensorOf(getQ()).getShape(); // [R, T, H, D]
  KernelDims dims = cacheDims(getKCache());
  dims.push_back({"T", q[1]});
  dims.push_back({"H", q[2]});
  return dims;
}

KernelScalars CachedAttentionOp::getKernelScalars() {
  return {{"layer", i32(getContext(), getLayer())}, {"scale", getScaleAttr()}};
}

StringRef KVAdvanceOp::getKernelName() { return "kvAdvance"; }

KernelDims KVAdvanceOp::getKernelDims() {
  return {{"R", getType().getNumElements()}};
}

KernelScalars KVAdvanceOp::getKernelScalars() {
  return {{"by", i32(getContext(), getBy())}};
}

//===----------------------------------------------------------------------===//
// KernelOp
//===----------------------------------------------------------------------===//

std::optional<int64_t> KernelOp::getDim(StringRef name) {
  const KernelSignature *signature = lookupKernel(getCallee());
  if (!signature)
    return std::nullopt;
  for (auto [param, dim] :
       llvm::zip(signature->paramsOf(KernelParam::Dim), getDims()))
    if (param->name == name)
      return dim;
  return std::nullopt;
}

LogicalResult KernelOp::verify() {
  const KernelSignature *signature = lookupKernel(getCallee());
  if (!signature)
    return emitOpError("names kernel '")
           << getCallee() << "', which is not in backends/Kernels.def";
  auto checkBuffers = [&](ValueRange buffers, KernelParam::Kind kind,
                          StringRef what) -> LogicalResult {
    auto params = signature->paramsOf(kind);
    if (buffers.size() != params.size())
      return emitOpError("kernel '")
             << getCallee() << "' takes " << params.size() << " " << what
             << " buffers, got " << buffers.size();
    for (auto [buffer, param] : llvm::zip(buffers, params))
      if (cppElementType(cast<MemRefType>(buffer.getType()).getElementType()) !=
          param->elementType)
        return emitOpError("kernel '")
               << getCallee() << "' takes " << what << " '" << param->name
               << "' as " << param->elementType << " elements, got "
               << buffer.getType();
    return success();
  };
  if (failed(checkBuffers(getInputs(), KernelParam::Input, "input")) ||
      failed(checkBuffers(getOutputs(), KernelParam::Output, "output")))
    return failure();

  auto dimParams = signature->paramsOf(KernelParam::Dim);
  if (getDims().size() != dimParams.size())
    return emitOpError("kernel '")
           << getCallee() << "' takes " << dimParams.size() << " dims, got "
           << getDims().size();
  for (auto [dim, param] : llvm::zip(getDims(), dimParams))
    if (dim < 0)
      return emitOpError("dim '")
             << param->name << "' must be non-negative, got " << dim;

  auto scalarParams = signature->scalars();
  if (getScalars().size() != scalarParams.size())
    return emitOpError("kernel '")
           << getCallee() << "' takes " << scalarParams.size()
           << " scalars, got " << getScalars().size();
  for (auto [scalar, param] : llvm::zip(getScalars(), scalarParams))
    if (!param->acceptsScalar(scalar))
      return emitOpError("kernel '")
             << getCallee() << "' takes scalar '" << param->name << "' as "
             << param->scalarTypeName() << " attribute, got " << scalar;
  return success();
}
