//===- Passes.h - every gptc pass -------------------------------*- C++ -*-===//

#ifndef GPTC_PASSES_PASSES_H
#define GPTC_PASSES_PASSES_H

#include "ir/GptcOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Pass/Pass.h"

namespace gptc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace gptc

#endif // GPTC_PASSES_PASSES_H
