//===- Autodiff.cpp - gptc-autodiff ---------------------------------------===//
//
// Reverse-mode autodiff over the tensor graph. The pass only walks and sums;
// every gradient rule is the op's own (VJPOpInterface, ir/VJP.cpp).
//
//===----------------------------------------------------------------------===//

#include "ir/GptcAttrs.h"
#include "passes/KernelABI.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace gptc {
#define GEN_PASS_DEF_AUTODIFF
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

/// The location of the backward of an op at `loc`: "<part>.grad".
static Location backwardLoc(Location loc) {
  std::string name = describeLocation(loc);
  return name.empty() ? loc
                      : Location(NameLoc::get(
                            StringAttr::get(loc.getContext(), name + ".grad")));
}

class Differentiator {
public:
  explicit Differentiator(func::FuncOp func) : func(func), b(func) {}

  LogicalResult run();

private:
  /// Adds `grad` to the gradient of `value` (values used twice get a sum).
  void accumulate(Value value, Value grad, Location loc) {
    Value &slot = grads[value];
    slot = slot ? b.create<AddOp>(loc, slot, grad).getResult() : grad;
  }
  LogicalResult differentiate(Operation *op);

  func::FuncOp func;
  OpBuilder b;
  DenseMap<Value, Value> grads; // forward value → d loss / d value
};

LogicalResult Differentiator::differentiate(Operation *op) {
  SmallVector<Value> resultGrads;
  bool any = false;
  for (Value result : op->getResults()) {
    resultGrads.push_back(grads.lookup(result));
    any |= resultGrads.back() != nullptr;
  }
  if (!any)
    return success(); // does not reach the loss
  auto vjp = dyn_cast<VJPOpInterface>(op);
  if (!vjp)
    return op->emitError("'")
           << op->getName()
           << "' has no gradient rule (VJPOpInterface); fuse it into an op "
              "that has one first";

  // The rule builds at the end of the block; its ops, and the sums of
  // gradients, are renamed "<part>.grad" and belong to the op's layer.
  Operation *last = &func.getBody().front().back();
  SmallVector<Value> operandGrads = vjp.buildVJP(b, resultGrads);
  Location loc = backwardLoc(op->getLoc());
  for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads))
    if (grad)
      accumulate(operand, grad, loc);
  for (Operation *it = last->getNextNode(); it; it = it->getNextNode()) {
    it->setLoc(loc);
    copyLayer(op, it);
  }
  return success();
}

LogicalResult Differentiator::run() {
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  if (ret.getNumOperands() != 1 ||
      cast<ShapedType>(ret.getOperand(0).getType()).getRank() != 0)
    return func.emitError("expects a single scalar loss result to "
                          "differentiate");
  Value loss = ret.getOperand(0);
  SmallVector<Operation *> forward;
  for (Operation &op : body.without_terminator())
    forward.push_back(&op);

  // Backward ops go after the forward ones, in reverse order.
  ret->remove();
  b.setInsertionPointToEnd(&body);
  grads[loss] = b.create<FillOp>(NameLoc::get(b.getStringAttr("loss.grad")),
                                 loss.getType(), b.getF32FloatAttr(1.0f));
  for (Operation *op : llvm::reverse(forward))
    if (failed(differentiate(op))) {
      body.push_back(ret);
      return failure();
    }

  // Return the loss, then one gradient per parameter, in argument order.
  SmallVector<Value> results{loss};
  SmallVector<DictionaryAttr> resultAttrs{func.getResultAttrDict(0)};
  for (BlockArgument arg : func.getArguments()) {
    auto name =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), kParamAttrName);
    if (!name)
      continue;
    Value grad = grads.lookup(arg);
    if (!grad) // a parameter that does not reach the loss
      grad = b.create<FillOp>(arg.getLoc(), arg.getType(),
                              b.getF32FloatAttr(0.0f));
    results.push_back(grad);
    resultAttrs.push_back(
        b.getDictionaryAttr(b.getNamedAttr(kGradOfAttrName, name)));
  }
  // Mark the backward ops: gptc-recompute schedules clones among them.
  for (Operation *op = grads[loss].getDefiningOp(); op; op = op->getNextNode())
    op->setAttr(kBackwardAttrName, b.getUnitAttr());
  b.create<func::ReturnOp>(ret.getLoc(), results);
  ret.erase();
  func.setType(b.getFunctionType(func.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
  func.setAllResultAttrs(resultAttrs);
  return success();
}

struct Autodiff : gptc::impl::AutodiffBase<Autodiff> {
  using AutodiffBase::AutodiffBase;

  void runOnOperation() override {
    auto func = getOperation().lookupSymbol<func::FuncOp>(function);
    if (!func || func.isExternal()) {
      getOperation().emitError("no function @")
          << function << " to differentiate";
      return signalPassFailure();
    }
    if (failed(Differentiator(func).run()))
      signalPassFailure();
  }
};

} // namespace
