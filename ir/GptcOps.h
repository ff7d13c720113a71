//===- GptcOps.h - gptc tensor-graph and kernel ops -------------*- C++ -*-===//

#ifndef GPTC_IR_GPTCOPS_H
#define GPTC_IR_GPTCOPS_H

#include "ir/GptcDialect.h"
#include "ir/KernelTable.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "ir/GptcInterfaces.h.inc"

#define GET_OP_CLASSES
#include "ir/GptcOps.h.inc"

namespace gptc {

/// Name of the argument attribute holding a parameter's state_dict name
/// (`transformer.h.0.attn.c_q.weight`); arguments without it are inputs.
constexpr llvm::StringLiteral kParamAttrName = "gptc.param";

/// A location as users read it: the model part a NameLoc names
/// ("transformer.h.0.attn.c_q"), or file:line:col.
std::string describeLocation(mlir::Location loc);

} // namespace gptc

#endif // GPTC_IR_GPTCOPS_H
