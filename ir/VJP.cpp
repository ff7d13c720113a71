//===- VJP.cpp - the gradient rule of every differentiable op -------------===//
//
// One short block per op, side by side: given the gradients of an op's
// results (`dy`), build the gradients of its operands. gptc-autodiff calls
// these through VJPOpInterface, in reverse program order.
//
//===----------------------------------------------------------------------===//

#include "ir/GptcOps.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace gptc;

// The result gradient of a single-result op (non-null: autodiff only asks
// ops whose results carry a gradient).
static Value single(ArrayRef<Value> resultGrads) { return resultGrads.front(); }

// table[ids] → scatter-add dy into the table's rows; ids get no gradient.
SmallVector<Value> EmbeddingOp::buildVJP(OpBuilder &b,
                                         ArrayRef<Value> resultGrads) {
  Value dtable = b.create<EmbeddingGradOp>(getLoc(), getTable().getType(),
                                           getIds(), single(resultGrads));
  return {dtable, Value()};
}

// y = x·r → dx = r·(dy − y·mean(dy∘y)), recomputing r from x.
SmallVector<Value> RMSNormOp::buildVJP(OpBuilder &b,
                                       ArrayRef<Value> resultGrads) {
  return {b.create<RMSNormGradOp>(getLoc(), getX(), single(resultGrads),
                                  getEpsAttr())};
}

// y = x·wᵀ → dx = dy·w, dw = dyᵀ·x.
SmallVector<Value> LinearOp::buildVJP(OpBuilder &b,
                                      ArrayRef<Value> resultGrads) {
  auto grad = b.create<LinearGradOp>(getLoc(), single(resultGrads), getX(),
                                     getWeight(), getPrecisionAttr());
  return {grad.getGradX(), grad.getGradWeight()};
}

// A reshape's gradient is the reshape back.
SmallVector<Value> ReshapeOp::buildVJP(OpBuilder &b,
                                       ArrayRef<Value> resultGrads) {
  return {b.create<ReshapeOp>(getLoc(), getX().getType(), single(resultGrads))};
}

// RoPE is a rotation: its gradient is the inverse rotation.
SmallVector<Value> RopeOp::buildVJP(OpBuilder &b, ArrayRef<Value> resultGrads) {
  return {b.create<RopeOp>(getLoc(), single(resultGrads), getBaseAttr(),
                           getRoundBf16Attr(), b.getBoolAttr(!getInverse()))};
}

// y = s·x → dx = s·dy.
SmallVector<Value> ScaleOp::buildVJP(OpBuilder &b,
                                     ArrayRef<Value> resultGrads) {
  return {b.create<ScaleOp>(getLoc(), single(resultGrads), getFactorAttr())};
}

// y = a + b → da = db = dy.
SmallVector<Value> AddOp::buildVJP(OpBuilder &b, ArrayRef<Value> resultGrads) {
  return {single(resultGrads), single(resultGrads)};
}

// y = relu(x)² → dx = 2·relu(x)·dy.
SmallVector<Value> ReluSquareOp::buildVJP(OpBuilder &b,
                                          ArrayRef<Value> resultGrads) {
  return {b.create<ReluSquareGradOp>(getLoc(), getX(), single(resultGrads))};
}

// Fused attention → the fused FlashAttention-2 backward from q, k, v, o and
// the saved log-sum-exp. The LSE is an internal result: no gradient.
SmallVector<Value> CausalAttentionOp::buildVJP(OpBuilder &b,
                                               ArrayRef<Value> resultGrads) {
  auto grad = b.create<CausalAttentionGradOp>(getLoc(), getQ(), getK(), getV(),
                                              getOut(), getLse(),
                                              resultGrads[0], getScaleAttr());
  return {grad.getGradQ(), grad.getGradK(), grad.getGradV()};
}

// Fused lm_head + soft-cap + cross-entropy → its chunked backward; targets
// get no gradient.
SmallVector<Value> LmHeadLossOp::buildVJP(OpBuilder &b,
                                          ArrayRef<Value> resultGrads) {
  auto grad = b.create<LmHeadLossGradOp>(
      getLoc(), getX(), getWeight(), getTargets(), single(resultGrads),
      getCapAttr(), getIgnoreIndexAttr(), getPrecisionAttr());
  return {grad.getGradX(), grad.getGradWeight(), Value()};
}
