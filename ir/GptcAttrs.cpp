//===- GptcAttrs.cpp - discardable attributes of the gptc dialect ---------===//

#include "ir/GptcAttrs.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace gptc;

static IntegerAttr layerAttr(MLIRContext *ctx, int64_t layer) {
  return IntegerAttr::get(IntegerType::get(ctx, 64), layer);
}

std::optional<int64_t> gptc::layerOf(Operation *op) {
  if (auto layer = op->getAttrOfType<IntegerAttr>(kLayerAttrName))
    return layer.getInt();
  return std::nullopt;
}

void gptc::setLayer(Operation *op, int64_t layer) {
  op->setAttr(kLayerAttrName, layerAttr(op->getContext(), layer));
}

void gptc::copyLayer(Operation *from, Operation *to) {
  if (std::optional<int64_t> layer = layerOf(from))
    setLayer(to, *layer);
}

std::optional<int64_t> gptc::argLayerOf(FunctionOpInterface func,
                                        unsigned index) {
  if (auto layer = func.getArgAttrOfType<IntegerAttr>(index, kLayerAttrName))
    return layer.getInt();
  return std::nullopt;
}

void gptc::setArgLayer(FunctionOpInterface func, unsigned index,
                       int64_t layer) {
  func.setArgAttr(index, kLayerAttrName, layerAttr(func->getContext(), layer));
}

LogicalResult
gptc::verifyLayerAttr(Attribute value,
                      function_ref<InFlightDiagnostic()> emitError) {
  auto layer = dyn_cast<IntegerAttr>(value);
  if (!layer || !layer.getType().isSignlessInteger(64))
    return emitError() << "'" << kLayerAttrName
                       << "' must be an i64 layer index, got " << value;
  if (layer.getInt() < 0)
    return emitError() << "'" << kLayerAttrName
                       << "' must be a layer index >= 0, got "
                       << layer.getInt();
  return success();
}
