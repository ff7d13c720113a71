//===- Pipelines.h - the pass pipelines gptc and gptc-opt share -*- C++ -*-===//

#ifndef GPTC_COMPILER_PIPELINES_H
#define GPTC_COMPILER_PIPELINES_H

#include "compiler/Targets.h"
#include "passes/PassOptions.h"

#include "mlir/Pass/PassManager.h"

namespace gptc {

/// The IR stages a pipeline passes through, in order; `gptc --emit=` can stop
/// after each of them.
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

template <> struct EnumTraits<Mode> {
  static llvm::ArrayRef<EnumEntry<Mode>> entries() {
    static constexpr EnumEntry<Mode> kEntries[] = {
        {Mode::Forward, "forward", "logits (and the loss) of token sequences"},
        {Mode::Train, "train", "a training program"},
        {Mode::Decode, "decode", "prefill and one-token steps over a KV cache"},
    };
    return kEntries;
  }
};

/// Whether `stage` exists in `mode`'s pipeline.
bool hasStage(Mode mode, Stage stage);

struct PipelineOptions {
  Target target = Target::Cpu; // backend whose kernels the program calls
  RecomputePolicy recompute = kDefaultRecompute; // training
  int64_t memoryBudget = 0; // training, recompute=auto: arena bytes
  int64_t kvCapacity = 0;   // decoding: slots/row (0: sequence_len)
  FloatFormat precision = kDefaultPrecision; // matrix products' inputs
  FloatFormat kvDtype = kDefaultKVDtype;     // decoding: KV-cache elements
  AttentionImpl attention = kDefaultAttention; // fused attention kernels
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
