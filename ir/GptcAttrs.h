//===- GptcAttrs.h - discardable attributes of the gptc dialect -*- C++ -*-===//
//
// Attributes the frontend puts on the module, its ops and its parameters, and
// that passes read and carry over to the ops they create. The dialect
// verifies them (GptcDialect::verifyOperationAttribute and
// verifyRegionArgAttribute).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_GPTCATTRS_H
#define GPTC_IR_GPTCATTRS_H

#include "mlir/IR/Operation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace gptc {

/// Module attribute: the validated model config as JSON.
constexpr llvm::StringLiteral kConfigAttrName = "gptc.config";

/// Op and parameter-argument attribute: the transformer block
/// (`transformer.h.<i>`) an op computes or a parameter belongs to, an i64
/// >= 0. What lies outside the blocks (embedding, final norm, lm_head, loss)
/// has none.
constexpr llvm::StringLiteral kLayerAttrName = "gptc.layer";

/// The layer of `op`, if it has one.
std::optional<int64_t> layerOf(mlir::Operation *op);
void setLayer(mlir::Operation *op, int64_t layer);
/// Gives `to` the layer of `from`, if `from` has one.
void copyLayer(mlir::Operation *from, mlir::Operation *to);

/// The layer of `func`'s argument `index` (a parameter), if it has one.
std::optional<int64_t> argLayerOf(mlir::FunctionOpInterface func,
                                  unsigned index);
void setArgLayer(mlir::FunctionOpInterface func, unsigned index, int64_t layer);

/// Checks that `value` is a valid gptc.layer value (an i64 >= 0).
mlir::LogicalResult
verifyLayerAttr(mlir::Attribute value,
                llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

} // namespace gptc

#endif // GPTC_IR_GPTCATTRS_H
