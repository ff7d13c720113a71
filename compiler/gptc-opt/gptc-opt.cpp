//===- gptc-opt.cpp - run any gptc pass or pipeline on a .mlir file -------===//

#include "compiler/Pipelines.h"
#include "ir/GptcDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses(); // canonicalize, cse, view-op-graph, ...
  gptc::registerGptcPasses();
  gptc::registerPipelines();
  mlir::DialectRegistry registry;
  registry.insert<gptc::GptcDialect, mlir::arith::ArithDialect,
                  mlir::emitc::EmitCDialect, mlir::func::FuncDialect,
                  mlir::memref::MemRefDialect>();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "gptc optimizer driver: runs gptc passes and pipelines\n",
      registry));
}
