//===- GraphBuilder.h - nanochat GPT → gptc tensor graph --------*- C++ -*-===//

#ifndef GPTC_FRONTEND_GRAPHBUILDER_H
#define GPTC_FRONTEND_GRAPHBUILDER_H

#include "frontend/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace gptc {

/// Builds `func.func @<funcName>(tokens [B, T] i32, targets [B, T] i32,
/// parameters...) -> (logits [B, T, V], loss)` for the nanochat GPT described
/// by `config`, with the model config as JSON in the module's `gptc.config`
/// attribute. Parameters are arguments named like nanochat's state_dict; every
/// op carries a location naming the layer and the part of the model.
mlir::OwningOpRef<mlir::ModuleOp>
buildForwardGraph(mlir::MLIRContext &ctx, const GPTConfig &config,
                  int64_t batch, int64_t seqLen,
                  llvm::StringRef funcName = "forward");

/// The model config as a JSON object (stored in programs and checkpoints).
std::string configToJson(const GPTConfig &config);

} // namespace gptc

#endif // GPTC_FRONTEND_GRAPHBUILDER_H
