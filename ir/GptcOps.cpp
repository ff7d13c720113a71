//===- GptcOps.cpp - gptc op verifiers and shape inference ----------------===//
//
// For each op: result-type inference (whose failures are the verifier
// messages users see) and extra verifiers. Each op's runtime kernel is in
// KernelInterface.cpp, its gradient in VJP.cpp, its cost in Cost.cpp.
//
//===----------------------------------------------------------------------===//

#include "ir/GptcOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace gptc;

#include "ir/GptcInterfaces.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static RankedTensorType tensorOf(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Checks the [B, T, H, D] / [B, S, Hkv, D] query/key pair shared by the
/// attention ops: same batch and head dim, H a multiple of Hkv.
static LogicalResult verifyQueryKeyShapes(std::optional<Location> loc,
                                          ArrayRef<int64_t> q,
                                          ArrayRef<int64_t> k,
                                          StringRef keyName) {
  if (q.size() != 4)
    return emitOptionalError(loc, "expects q of rank 4 [B, T, H, D], got rank ",
                             q.size());
  if (k.size() != 4)
    return emitOptionalError(loc, "expects ", keyName,
                             " of rank 4 [B, S, Hkv, D], got rank ", k.size());
  if (q[0] != k[0])
    return emitOptionalError(loc, "batch mismatch: q has B=", q[0], ", ",
                             keyName, " has B=", k[0]);
  if (q[3] != k[3])
    return emitOptionalError(loc, "head dim mismatch: q has D=", q[3], ", ",
                             keyName, " has D=", k[3]);
  if (k[2] <= 0 || q[2] % k[2] != 0)
    return emitOptionalError(
        loc, "query heads H=", q[2],
        " is not a multiple of key/value heads Hkv=", k[2]);
  return success();
}

std::string gptc::describeLocation(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    return llvm::join(llvm::map_range(fused.getLocations(), describeLocation),
                      " + ");
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (file.getFilename().getValue() + ":" + Twine(file.getLine()) + ":" +
            Twine(file.getColumn()))
        .str();
  return "";
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto table = cast<RankedTensorType>(adaptor.getTable().getType());
  auto ids = cast<RankedTensorType>(adaptor.getIds().getType());
  if (table.getRank() != 2)
    return emitOptionalError(loc, "expects a table of rank 2 [V, C], got rank ",
                             table.getRank());
  SmallVector<int64_t> shape(ids.getShape());
  shape.push_back(table.getDimSize(1));
  types.push_back(RankedTensorType::get(shape, table.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

/// The result type of x [..., K] · w [N, K]ᵀ, or an error at `loc`.
static FailureOr<RankedTensorType> inferLinearType(std::optional<Location> loc,
                                                   Value xValue, Value wValue) {
  auto x = cast<RankedTensorType>(xValue.getType());
  auto w = cast<RankedTensorType>(wValue.getType());
  if (w.getRank() != 2)
    return emitOptionalError(
        loc, "expects a weight of rank 2 [N, K], got rank ", w.getRank());
  if (x.getRank() < 1)
    return emitOptionalError(loc, "expects an input of rank >= 1");
  if (x.getShape().back() != w.getDimSize(1))
    return emitOptionalError(loc, "input features K=", x.getShape().back(),
                             " do not match the weight's K=", w.getDimSize(1),
                             " (weights are stored [out, in])");
  SmallVector<int64_t> shape(x.getShape());
  shape.back() = w.getDimSize(0);
  return RankedTensorType::get(shape, x.getElementType());
}

LogicalResult LinearOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> type =
      inferLinearType(loc, adaptor.getX(), adaptor.getWeight());
  if (failed(type))
    return failure();
  types.push_back(*type);
  return success();
}

/// Checks a matrix product's precision attribute.
static LogicalResult verifyPrecision(Operation *op, StringRef precision) {
  if (precision != "f32" && precision != "bf16")
    return op->emitOpError("precision must be \"f32\" or \"bf16\", got \"")
           << precision << "\"";
  return success();
}

LogicalResult LinearOp::verify() {
  return verifyPrecision(*this, getPrecision());
}

//===----------------------------------------------------------------------===//
// ReshapeOp
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto in = cast<RankedTensorType>(getX().getType());
  auto out = cast<RankedTensorType>(getType());
  if (in.getElementType() != out.getElementType())
    return emitOpError("cannot change the element type from ")
           << in.getElementType() << " to " << out.getElementType();
  if (!in.hasStaticShape() || !out.hasStaticShape())
    return emitOpError("expects static shapes");
  if (in.getNumElements() != out.getNumElements())
    return emitOpError("cannot reshape ")
           << in.getNumElements() << " elements into " << out.getNumElements();
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor) {
  if (getX().getType() == getType())
    return getX();
  // reshape(reshape(x)) is one reshape of x.
  if (auto producer = getX().getDefiningOp<ReshapeOp>()) {
    getXMutable().assign(producer.getX());
    return getResult();
  }
  return {};
}

Value ReshapeOp::getViewSource() { return getX(); }

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  RankedTensorType type = getType();
  if (type.getRank() != 4)
    return emitOpError("expects rank 4 [B, T, H, D], got rank ")
           << type.getRank();
  if (type.getDimSize(3) % 2 != 0)
    return emitOpError("expects an even head dim to pair its halves, got D=")
           << type.getDimSize(3);
  if (getBase().convertToFloat() <= 1.0f)
    return emitOpError("expects base > 1, got ") << getBase().convertToDouble();
  return success();
}

//===----------------------------------------------------------------------===//
// AttnScoresOp
//===----------------------------------------------------------------------===//

LogicalResult AttnScoresOp::inferReturnTypes(MLIRContext *ctx,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  auto q = cast<RankedTensorType>(adaptor.getQ().getType());
  auto k = cast<RankedTensorType>(adaptor.getK().getType());
  if (failed(verifyQueryKeyShapes(loc, q.getShape(), k.getShape(), "k")))
    return failure();
  types.push_back(RankedTensorType::get(
      {q.getDimSize(0), q.getDimSize(2), q.getDimSize(1), k.getDimSize(1)},
      q.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// CausalMaskOp
//===----------------------------------------------------------------------===//

LogicalResult CausalMaskOp::verify() {
  RankedTensorType type = getType();
  if (type.getRank() < 2 || type.getDimSize(type.getRank() - 1) !=
                                type.getDimSize(type.getRank() - 2))
    return emitOpError("expects square scores [..., T, T], got ") << type;
  return success();
}

//===----------------------------------------------------------------------===//
// SoftmaxOp
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// AttnApplyOp
//===----------------------------------------------------------------------===//

LogicalResult AttnApplyOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  auto p = cast<RankedTensorType>(adaptor.getProbs().getType());
  auto v = cast<RankedTensorType>(adaptor.getV().getType());
  if (p.getRank() != 4 || v.getRank() != 4)
    return emitOptionalError(
        loc, "expects probs [B, H, T, S] and v [B, S, Hkv, D] of rank 4");
  if (p.getDimSize(0) != v.getDimSize(0))
    return emitOptionalError(loc,
                             "batch mismatch: probs has B=", p.getDimSize(0),
                             ", v has B=", v.getDimSize(0));
  if (p.getDimSize(3) != v.getDimSize(1))
    return emitOptionalError(loc, "probs attend over S=", p.getDimSize(3),
                             " keys but v has S=", v.getDimSize(1));
  if (p.getDimSize(1) % v.getDimSize(2) != 0)
    return emitOptionalError(
        loc, "query heads H=", p.getDimSize(1),
        " is not a multiple of key/value heads Hkv=", v.getDimSize(2));
  types.push_back(RankedTensorType::get(
      {p.getDimSize(0), p.getDimSize(2), p.getDimSize(1), v.getDimSize(3)},
      p.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// CausalAttentionOp
//===----------------------------------------------------------------------===//

/// The [B, T, H, D] output and [B, H, T] log-sum-exp types of causal
/// attention over q, k, v, or an error at `loc`.
static LogicalResult inferAttentionTypes(std::optional<Location> loc, Value qv,
                                         Value kv, Value vv,
                                         SmallVectorImpl<Type> &types) {
  auto q = cast<RankedTensorType>(qv.getType());
  auto k = cast<RankedTensorType>(kv.getType());
  auto v = cast<RankedTensorType>(vv.getType());
  if (failed(verifyQueryKeyShapes(loc, q.getShape(), k.getShape(), "k")) ||
      failed(verifyQueryKeyShapes(loc, q.getShape(), v.getShape(), "v")))
    return failure();
  if (k.getShape() != v.getShape())
    return emitOptionalError(loc, "k and v must have the same shape");
  if (k.getDimSize(1) != q.getDimSize(1))
    return emitOptionalError(loc,
                             "causal attention expects as many keys as "
                             "queries, got T=",
                             q.getDimSize(1), " and S=", k.getDimSize(1));
  types.push_back(q);
  types.push_back(RankedTensorType::get(
      {q.getDimSize(0), q.getDimSize(2), q.getDimSize(1)}, q.getElementType()));
  return success();
}

LogicalResult CausalAttentionOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  return inferAttentionTypes(loc, adaptor.getQ(), adaptor.getK(),
                             adaptor.getV(), types);
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

LogicalResult SoftcapOp::verify() {
  if (getCap().convertToFloat() <= 0.0f)
    return emitOpError("expects a positive cap, got ")
           << getCap().convertToDouble();
  return success();
}

//===----------------------------------------------------------------------===//
// CrossEntropyOp
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *ctx,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &types) {
  auto logits = cast<RankedTensorType>(adaptor.getLogits().getType());
  auto targets = cast<RankedTensorType>(adaptor.getTargets().getType());
  if (logits.getRank() != targets.getRank() + 1 ||
      logits.getShape().drop_back() != targets.getShape())
    return emitOptionalError(loc, "targets ", targets,
                             " must have the logits' shape without the "
                             "vocabulary axis, logits are ",
                             logits);
  types.push_back(RankedTensorType::get({}, logits.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// LmHeadLossOp
//===----------------------------------------------------------------------===//

/// Checks x [..., C], w [V, C] and targets [...] of the fused loss ops.
static LogicalResult verifyLmHeadOperands(std::optional<Location> loc,
                                          RankedTensorType x,
                                          RankedTensorType w,
                                          RankedTensorType targets) {
  if (w.getRank() != 2 || x.getRank() < 1 ||
      x.getShape().back() != w.getDimSize(1))
    return emitOptionalError(loc, "expects x [..., C] and weight [V, C], got ",
                             x, " and ", w);
  if (x.getShape().drop_back() != targets.getShape())
    return emitOptionalError(loc, "targets ", targets,
                             " must have x's shape without the channel axis");
  return success();
}

LogicalResult LmHeadLossOp::inferReturnTypes(MLIRContext *ctx,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  auto x = cast<RankedTensorType>(adaptor.getX().getType());
  if (failed(verifyLmHeadOperands(
          loc, x, cast<RankedTensorType>(adaptor.getWeight().getType()),
          cast<RankedTensorType>(adaptor.getTargets().getType()))))
    return failure();
  types.push_back(RankedTensorType::get({}, x.getElementType()));
  return success();
}

LogicalResult LmHeadLossOp::verify() {
  return verifyPrecision(*this, getPrecision());
}

//===----------------------------------------------------------------------===//
// FillOp
//===----------------------------------------------------------------------===//

LogicalResult FillOp::verify() {
  if (!getType().hasStaticShape())
    return emitOpError("expects a static shape");
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingGradOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingGradOp::verify() {
  RankedTensorType table = getType(), grad = tensorOf(getGrad());
  ArrayRef<int64_t> ids = tensorOf(getIds()).getShape();
  if (table.getRank() != 2)
    return emitOpError("expects a table gradient of rank 2 [V, C], got ")
           << table;
  if (grad.getShape().drop_back() != ids ||
      grad.getShape().back() != table.getDimSize(1))
    return emitOpError("expects a gradient of shape ids × C, got ") << grad;
  return success();
}

//===----------------------------------------------------------------------===//
// RMSNormGradOp, ReluSquareGradOp
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// LinearGradOp
//===----------------------------------------------------------------------===//

LogicalResult LinearGradOp::inferReturnTypes(MLIRContext *ctx,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> forward =
      inferLinearType(loc, adaptor.getX(), adaptor.getWeight());
  if (failed(forward))
    return failure();
  if (*forward != adaptor.getGrad().getType())
    return emitOptionalError(loc, "expects the output gradient to be ",
                             *forward, ", got ", adaptor.getGrad().getType());
  types.push_back(adaptor.getX().getType());
  types.push_back(adaptor.getWeight().getType());
  return success();
}

LogicalResult LinearGradOp::verify() {
  return verifyPrecision(*this, getPrecision());
}

//===----------------------------------------------------------------------===//
// CausalAttentionGradOp
//===----------------------------------------------------------------------===//

LogicalResult CausalAttentionGradOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  SmallVector<Type> forward;
  if (failed(inferAttentionTypes(loc, adaptor.getQ(), adaptor.getK(),
                                 adaptor.getV(), forward)))
    return failure();
  if (adaptor.getOut().getType() != forward[0] ||
      adaptor.getGradOut().getType() != forward[0] ||
      adaptor.getLse().getType() != forward[1])
    return emitOptionalError(loc, "expects out and grad_out of type ",
                             forward[0], " and lse of type ", forward[1]);
  types.push_back(adaptor.getQ().getType());
  types.push_back(adaptor.getK().getType());
  types.push_back(adaptor.getV().getType());
  return success();
}

//===----------------------------------------------------------------------===//
// LmHeadLossGradOp
//===----------------------------------------------------------------------===//

LogicalResult LmHeadLossGradOp::inferReturnTypes(MLIRContext *ctx,
                                                 std::optional<Location> loc,
                                                 Adaptor adaptor,
                                                 SmallVectorImpl<Type> &types) {
  auto x = cast<RankedTensorType>(adaptor.getX().getType());
  auto w = cast<RankedTensorType>(adaptor.getWeight().getType());
  if (failed(verifyLmHeadOperands(
          loc, x, w, cast<RankedTensorType>(adaptor.getTargets().getType()))))
    return failure();
  types.push_back(x);
  types.push_back(w);
  return success();
}

LogicalResult LmHeadLossGradOp::verify() {
  return verifyPrecision(*this, getPrecision());
}

//===----------------------------------------------------------------------===//
// Decode ops
//===----------------------------------------------------------------------===//

/// Checks a KV cache [L, R, Cap, Hkv, D] against rows R and layer `layer`.
static LogicalResult verifyCache(Operation *op, RankedTensorType cache,
                                 int64_t rows, int64_t layer) {
  if (cache.getDimSize(1) != rows)
    return op->emitOpError("expects a cache of ")
           << rows << " rows [L, R, Cap, Hkv, D], got " << cache;
  if (layer < 0 || layer >= cache.getDimSize(0))
    return op->emitOpError("layer ") << layer << " is outside the cache's "
                                     << cache.getDimSize(0) << " layers";
  return success();
}

/// Checks per-row lengths [R].
static LogicalResult verifyLengths(Operation *op, Value lengths, int64_t rows) {
  ArrayRef<int64_t> shape = tensorOf(lengths).getShape();
  if (shape.size() != 1 || shape[0] != rows)
    return op->emitOpError("expects one length per row [")
           << rows << "], got " << lengths.getType();
  return success();
}

LogicalResult RopeAtOp::verify() {
  RankedTensorType type = getType();
  if (type.getRank() != 4 || type.getDimSize(3) % 2 != 0)
    return emitOpError("expects [R, T, H, D] with an even D, got ") << type;
  return verifyLengths(*this, getPositions(), type.getDimSize(0));
}

LogicalResult KVAppendOp::verify() {
  RankedTensorType cache = tensorOf(getCache());
  ArrayRef<int64_t> entries = tensorOf(getNewEntries()).getShape();
  int64_t rows = cache.getDimSize(1);
  if (failed(verifyCache(*this, cache, rows, getLayer())) ||
      failed(verifyLengths(*this, getLengths(), rows)))
    return failure();
  if (entries.size() != 4 || entries[0] != rows ||
      entries[2] != cache.getDimSize(3) || entries[3] != cache.getDimSize(4))
    return emitOpError("expects new entries [R, T, Hkv, D] matching the "
                       "cache ")
           << cache << ", got " << getNewEntries().getType();
  if (entries[1] > cache.getDimSize(2))
    return emitOpError("writes ") << entries[1] << " tokens into a cache of "
                                  << cache.getDimSize(2) << " slots per row";
  return success();
}

unsigned KVAppendOp::getTiedOperandIndex() { return 0; }

LogicalResult CachedAttentionOp::verify() {
  ArrayRef<int64_t> q = tensorOf(getQ()).getShape();
  RankedTensorType cache = tensorOf(getKCache());
  if (q.size() != 4)
    return emitOpError("expects queries [R, T, H, D], got ")
           << getQ().getType();
  if (cache != tensorOf(getVCache()))
    return emitOpError("expects key and value caches of one type");
  if (failed(verifyCache(*this, cache, q[0], getLayer())) ||
      failed(verifyLengths(*this, getLengths(), q[0])))
    return failure();
  if (q[3] != cache.getDimSize(4) || q[2] % cache.getDimSize(3) != 0)
    return emitOpError("expects queries with the cache's head dim and a "
                       "multiple of its ")
           << cache.getDimSize(3) << " key/value heads, got "
           << getQ().getType();
  if (getType() != getQ().getType())
    return emitOpError("expects the result to have the queries' type");
  return success();
}

unsigned KVAdvanceOp::getTiedOperandIndex() { return 0; }

#define GET_OP_CLASSES
#include "ir/GptcOps.cpp.inc"
