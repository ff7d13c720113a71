//===- FuseCausalAttention.cpp - gptc-fuse-causal-attention ---------------===//
//
// attn_scores → causal_mask → softmax → attn_apply becomes one
// gptc.causal_attention (FlashAttention-style: no T×T buffer, saves the LSE).
//
//===----------------------------------------------------------------------===//

#include "ir/GptcAttrs.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace gptc {
#define GEN_PASS_DEF_FUSECAUSALATTENTION
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

/// Matches the chain backwards from attn_apply. Each intermediate must have
/// exactly one use: if the scores or probabilities are read elsewhere they
/// have to exist, and fusing would compute them twice.
struct FuseCausalAttentionPattern : OpRewritePattern<AttnApplyOp> {
  FuseCausalAttentionPattern(MLIRContext *ctx, llvm::Statistic &numFused)
      : OpRewritePattern(ctx), numFused(numFused) {}

  LogicalResult matchAndRewrite(AttnApplyOp apply,
                                PatternRewriter &rewriter) const override {
    auto softmax = apply.getProbs().getDefiningOp<SoftmaxOp>();
    if (!softmax || !softmax->hasOneUse())
      return rewriter.notifyMatchFailure(apply, "probs are not a lone softmax");
    auto mask = softmax.getX().getDefiningOp<CausalMaskOp>();
    if (!mask || !mask->hasOneUse())
      return rewriter.notifyMatchFailure(apply, "softmax input is not masked");
    auto scores = mask.getX().getDefiningOp<AttnScoresOp>();
    if (!scores || !scores->hasOneUse())
      return rewriter.notifyMatchFailure(apply, "mask input is not scores");
    if (scores.getK().getType() != apply.getV().getType())
      return rewriter.notifyMatchFailure(apply, "k and v shapes differ");

    // The fused op stands for all four: keep each one's model-part name.
    Location loc = rewriter.getFusedLoc(
        {scores.getLoc(), mask.getLoc(), softmax.getLoc(), apply.getLoc()});
    auto fused = rewriter.create<CausalAttentionOp>(
        loc, scores.getQ(), scores.getK(), apply.getV(), scores.getScaleAttr());
    copyLayer(scores, fused);
    rewriter.replaceOp(apply, fused.getOut());
    ++numFused;
    return success();
  }

  llvm::Statistic &numFused;
};

struct FuseCausalAttention
    : gptc::impl::FuseCausalAttentionBase<FuseCausalAttention> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseCausalAttentionPattern>(&getContext(), numFused);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
