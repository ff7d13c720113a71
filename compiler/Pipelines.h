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
enum class Stage {
  Graph,
  Fused,
  Autodiff,  // training only
  Recompute, // training only
  Decode,    // decoding only
  Kernels,
  Planned,
  EmitC
};

/// What a compiled program does: run the forward pass, train, or decode.
enum class Mode { Forward, Train, Decode };

/// The --mode name of a mode ("forward", "train", "decode"), and back.
llvm::StringRef modeName(Mode mode);
std::optional<Mode> parseMode(llvm::StringRef name);

/// Whether `stage` exists in `mode`'s pipeline.
bool hasStage(Mode mode, Stage stage);

/// The --emit name of a stage ("graph", "fused", ...), and back.
llvm::StringRef stageName(Stage stage);
std::optional<Stage> parseStage(llvm::StringRef name);

struct PipelineOptions {
  std::string target = "cpu";        // backend whose kernels the program calls
  std::string recompute = "minimal"; // training: none, minimal, full or auto
  int64_t memoryBudget = 0;          // training, recompute=auto: arena bytes
  int64_t kvCapacity = 0;            // decoding: slots/row (0: sequence_len)
  std::string precision = "f32";     // matrix products: f32 or bf16
  std::string kvDtype = "f32";       // decoding: KV-cache element type
  std::string attention = "own";     // fused attention: own or cudnn (cuda)
};

/// Forward pass: tensor graph → fused graph → kernels → planned → EmitC.
/// Stops after `last`.
void buildForwardPipeline(mlir::OpPassManager &pm,
                          const PipelineOptions &options,
                          Stage last = Stage::EmitC);

/// Training: the forward pipeline's graph, plus @train_step with every
/// parameter's gradient (fused loss, autodiff, recompute). Stops after `last`.
void buildTrainPipeline(mlir::OpPassManager &pm, const PipelineOptions &options,
                        Stage last = Stage::EmitC);

/// Decoding: @prefill and @step forward graphs become incremental functions
/// over an explicit KV cache (gptc-make-decode). Stops after `last`.
void buildDecodePipeline(mlir::OpPassManager &pm,
                         const PipelineOptions &options,
                         Stage last = Stage::EmitC);

/// The pipeline of `mode`, stopping after `last`.
void buildPipeline(mlir::OpPassManager &pm, Mode mode,
                   const PipelineOptions &options, Stage last = Stage::EmitC);

/// Registers the pipelines as gptc-opt passes (--gptc-forward-pipeline,
/// --gptc-train-pipeline, --gptc-decode-pipeline).
void registerPipelines();

} // namespace gptc

#endif // GPTC_COMPILER_PIPELINES_H
