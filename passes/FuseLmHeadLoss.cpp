//===- FuseLmHeadLoss.cpp - gptc-fuse-lm-head-loss ------------------------===//
//
// linear → softcap → cross_entropy becomes one chunked gptc.lm_head_loss.
//
//===----------------------------------------------------------------------===//

#include "ir/GptcAttrs.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace gptc {
#define GEN_PASS_DEF_FUSELMHEADLOSS
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

/// Matches backwards from the loss; the logits and capped logits must feed
/// nothing else, or they would have to exist after all.
struct FuseLmHeadLossPattern : OpRewritePattern<CrossEntropyOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CrossEntropyOp loss,
                                PatternRewriter &rewriter) const override {
    auto softcap = loss.getLogits().getDefiningOp<SoftcapOp>();
    if (!softcap || !softcap->hasOneUse())
      return rewriter.notifyMatchFailure(loss, "logits are not a lone softcap");
    auto head = softcap.getX().getDefiningOp<LinearOp>();
    if (!head || !head->hasOneUse())
      return rewriter.notifyMatchFailure(loss, "softcap input is not a lone "
                                               "linear");
    // The fused op keeps the three model-part names and the head's
    // precision.
    Location loc =
        rewriter.getFusedLoc({head.getLoc(), softcap.getLoc(), loss.getLoc()});
    auto fused = rewriter.create<LmHeadLossOp>(
        loc, head.getX(), head.getWeight(), loss.getTargets(),
        softcap.getCapAttr(), loss.getIgnoreIndexAttr(),
        head.getPrecisionAttr());
    copyLayer(head, fused);
    rewriter.replaceOp(loss, fused.getLoss());
    return success();
  }
};

struct FuseLmHeadLoss : gptc::impl::FuseLmHeadLossBase<FuseLmHeadLoss> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseLmHeadLossPattern>(&getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
