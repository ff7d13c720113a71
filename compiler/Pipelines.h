//===- Pipelines.h - the pass pipelines gptc and gptc-opt share -*- C++ -*-===//

#ifndef GPTC_COMPILER_PIPELINES_H
#define GPTC_COMPILER_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>

namespace gptc {

/// The IR stages a pipeline passes through, in order; `gptc --emit=<name>`
/// stops after one of them.
enum class Stage { Graph, Fused, Kernels, Planned, EmitC };

/// The --emit name of a stage ("graph", "fused", ...), and back.
llvm::StringRef stageName(Stage stage);
std::optional<Stage> parseStage(llvm::StringRef name);

struct PipelineOptions {
  std::string target = "cpu"; // backend whose kernels the program calls
};

/// Forward pass: tensor graph → fused graph → kernels → planned → EmitC.
/// Stops after `last`.
void buildForwardPipeline(mlir::OpPassManager &pm,
                          const PipelineOptions &options,
                          Stage last = Stage::EmitC);

/// Registers the pipelines as gptc-opt passes (--gptc-forward-pipeline).
void registerPipelines();

} // namespace gptc

#endif // GPTC_COMPILER_PIPELINES_H
