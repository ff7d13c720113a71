//===- MakeTrainStep.cpp - gptc-make-train-step ---------------------------===//
//
// @forward → @train_step returning only the loss.
//
//===----------------------------------------------------------------------===//

#include "backends/common/Program.h"
#include "passes/KernelABI.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace gptc {
#define GEN_PASS_DEF_MAKETRAINSTEP
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

struct MakeTrainStep : gptc::impl::MakeTrainStepBase<MakeTrainStep> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward || forward.isExternal()) {
      module.emitError("expects a function @forward to derive @train_step "
                       "from");
      return signalPassFailure();
    }
    std::optional<unsigned> lossIndex;
    for (unsigned i = 0; i < forward.getNumResults(); ++i)
      if (auto name =
              forward.getResultAttrOfType<StringAttr>(i, kIONameAttrName))
        if (name.getValue() == buffers::kLoss)
          lossIndex = i;
    if (!lossIndex) {
      forward.emitError("expects a result named \"loss\" (gptc.name)");
      return signalPassFailure();
    }

    auto step = cast<func::FuncOp>(forward->clone());
    step.setName("train_step");
    OpBuilder b(forward);
    b.setInsertionPointAfter(forward);
    b.insert(step);
    // Return only the loss; the rest becomes dead code.
    auto ret = cast<func::ReturnOp>(step.getBody().front().getTerminator());
    Value loss = ret.getOperand(*lossIndex);
    DictionaryAttr lossAttrs = step.getResultAttrDict(*lossIndex);
    b.setInsertionPoint(ret);
    b.create<func::ReturnOp>(ret.getLoc(), loss);
    ret.erase();
    step.setType(b.getFunctionType(step.getArgumentTypes(), loss.getType()));
    step.setResultAttrs(0, lossAttrs);
  }
};

} // namespace
