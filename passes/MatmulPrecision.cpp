//===- MatmulPrecision.cpp - gptc-matmul-precision ------------------------===//
//
// Sets the number format of every matrix product: linear, the fused lm_head
// loss, and their gradients.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

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
    StringAttr format = StringAttr::get(&getContext(), enumName(FloatFormat(precision)));
    getOperation().walk([&](Operation *op) {
      TypeSwitch<Operation *>(op)
          .Case<LinearOp, LinearGradOp, LmHeadLossOp, LmHeadLossGradOp>(
              [&](auto product) {
                product.setPrecisionAttr(format);
                ++numProducts;
              });
    });
  }
};

} // namespace
