//===- MatmulPrecision.cpp - gptc-matmul-precision ------------------------===//
//
// Sets the number format of every matrix product (linear and its gradient).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace gptc {
#define GEN_PASS_DEF_MATMULPRECISION
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

struct MatmulPrecision : gptc::impl::MatmulPrecisionBase<MatmulPrecision> {
  using MatmulPrecisionBase::MatmulPrecisionBase;

  void runOnOperation() override {
    if (precision != "f32" && precision != "bf16") {
      getOperation().emitError("unknown precision '")
          << precision << "'; expected f32 or bf16";
      return signalPassFailure();
    }
    StringAttr format = StringAttr::get(&getContext(), precision);
    getOperation().walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op))
        linear.setPrecisionAttr(format);
      else if (auto grad = dyn_cast<LinearGradOp>(op))
        grad.setPrecisionAttr(format);
      else
        return;
      ++numProducts;
    });
  }
};

} // namespace
