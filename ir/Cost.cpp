//===- Cost.cpp - what every op costs -------------------------------------===//
//
// Floating-point operations per execution (multiply-add = 2), and which
// ops are expensive to recompute. `gptc explain` sums these over a graph;
// the recompute policies keep expensive results rather than recompute them.
//
//===----------------------------------------------------------------------===//

#include "ir/GptcOps.h"

using namespace mlir;
using namespace gptc;

static int64_t numel(Value v) {
  return cast<RankedTensorType>(v.getType()).getNumElements();
}

/// FLOPs of causal attention over [B, T, H, D] queries: QKᵀ and PV, each
/// 2·B·H·T²·D, halved by the causal mask.
static int64_t causalAttentionFlops(Value q) {
  ArrayRef<int64_t> s = cast<RankedTensorType>(q.getType()).getShape();
  return 2 * s[0] * s[2] * s[1] * s[1] * s[3];
}

/// FLOPs of x [.., C] · w [V, C]ᵀ.
static int64_t matmulFlops(Value x, Value w) {
  return 2 * numel(x) * cast<RankedTensorType>(w.getType()).getDimSize(0);
}

int64_t EmbeddingOp::getFlops() { return 0; }
int64_t RMSNormOp::getFlops() { return 4 * numel(getX()); }
int64_t LinearOp::getFlops() { return matmulFlops(getX(), getWeight()); }
int64_t RopeOp::getFlops() { return 3 * numel(getX()); }
int64_t AttnScoresOp::getFlops() {
  return 2 * numel(getResult()) *
         cast<RankedTensorType>(getQ().getType()).getShape().back();
}
int64_t CausalMaskOp::getFlops() { return 0; }
int64_t SoftmaxOp::getFlops() { return 4 * numel(getX()); }
int64_t AttnApplyOp::getFlops() {
  return 2 * numel(getProbs()) *
         cast<RankedTensorType>(getV().getType()).getShape().back();
}
int64_t CausalAttentionOp::getFlops() { return causalAttentionFlops(getQ()); }
int64_t ScaleOp::getFlops() { return numel(getX()); }
int64_t AddOp::getFlops() { return numel(getLhs()); }
int64_t ReluSquareOp::getFlops() { return 2 * numel(getX()); }
int64_t SoftcapOp::getFlops() { return 4 * numel(getX()); }
int64_t CrossEntropyOp::getFlops() { return 4 * numel(getLogits()); }
int64_t LmHeadLossOp::getFlops() { return matmulFlops(getX(), getWeight()); }
int64_t FillOp::getFlops() { return 0; }
int64_t EmbeddingGradOp::getFlops() { return numel(getGrad()); }
int64_t RMSNormGradOp::getFlops() { return 8 * numel(getX()); }
int64_t ReluSquareGradOp::getFlops() { return 3 * numel(getX()); }
int64_t LinearGradOp::getFlops() {
  return 2 * matmulFlops(getX(), getWeight());
}
// The backward runs five T×T products to the forward's two: 2.5×.
int64_t CausalAttentionGradOp::getFlops() {
  return causalAttentionFlops(getQ()) * 5 / 2;
}
// Recomputes the logits, then dx and dw: three products.
int64_t LmHeadLossGradOp::getFlops() {
  return 3 * matmulFlops(getX(), getWeight());
}

int64_t RopeAtOp::getFlops() { return 3 * numel(getX()); }
int64_t KVAppendOp::getFlops() { return 0; }
int64_t KVAdvanceOp::getFlops() { return 0; }
// QKᵀ and PV of T queries per row over at most Cap cached keys.
int64_t CachedAttentionOp::getFlops() {
  return 4 * numel(getQ()) *
         cast<RankedTensorType>(getKCache().getType()).getDimSize(2);
}

bool LinearOp::isCheapToRecompute() { return false; }
bool AttnScoresOp::isCheapToRecompute() { return false; }
bool AttnApplyOp::isCheapToRecompute() { return false; }
bool CausalAttentionOp::isCheapToRecompute() { return false; }
bool LmHeadLossOp::isCheapToRecompute() { return false; }
bool LinearGradOp::isCheapToRecompute() { return false; }
bool CausalAttentionGradOp::isCheapToRecompute() { return false; }
bool LmHeadLossGradOp::isCheapToRecompute() { return false; }
bool CachedAttentionOp::isCheapToRecompute() { return false; }
