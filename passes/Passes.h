//===- Passes.h - every gptc pass -------------------------------*- C++ -*-===//

#ifndef GPTC_PASSES_PASSES_H
#define GPTC_PASSES_PASSES_H

#include "compiler/Targets.h"
#include "ir/GptcOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Pass/Pass.h"
#include "passes/KernelABI.h"
#include "passes/PassOptions.h"

namespace gptc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// What gptc-lower-to-kernels does to one function: builds its kernel-level
/// twin (same name) just before it and leaves `func`, which the caller
/// erases.
mlir::FailureOr<mlir::func::FuncOp>
lowerFunctionToKernels(mlir::func::FuncOp func);

} // namespace gptc

#endif // GPTC_PASSES_PASSES_H
