//===- GptcDialect.cpp - the gptc dialect ---------------------------------===//

#include "ir/GptcDialect.h"
#include "ir/GptcAttrs.h"
#include "ir/GptcOps.h"

using namespace mlir;
using namespace gptc;

#include "ir/GptcDialect.cpp.inc"

void GptcDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/GptcOps.cpp.inc"
      >();
}

LogicalResult GptcDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  if (attr.getName() == kLayerAttrName)
    return verifyLayerAttr(attr.getValue(), [&] { return op->emitError(); });
  return success();
}

LogicalResult GptcDialect::verifyRegionArgAttribute(Operation *op,
                                                    unsigned regionIndex,
                                                    unsigned argIndex,
                                                    NamedAttribute attr) {
  if (attr.getName() != kLayerAttrName)
    return success();
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func || regionIndex != 0 || !func.getArgAttr(argIndex, kParamAttrName))
    return op->emitError("'")
           << kLayerAttrName << "' on argument " << argIndex
           << ", which is not a parameter (no '" << kParamAttrName << "')";
  return verifyLayerAttr(attr.getValue(), [&] {
    return op->emitError("argument ") << argIndex << ": ";
  });
}
