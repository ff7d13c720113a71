//===- Pipelines.cpp - the pass pipelines gptc and gptc-opt share ---------===//

#include "compiler/Pipelines.h"

#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace gptc;

bool gptc::hasStage(Mode mode, Stage stage) {
  if (stage == Stage::Autodiff || stage == Stage::Recompute)
    return mode == Mode::Train;
  if (stage == Stage::Decode)
    return mode == Mode::Decode;
  return true;
}

/// The stages every mode shares, up to the fused graph; true when `last`
/// is among them (the pipeline ends there).
static bool addFusedGraph(OpPassManager &pm, Stage last) {
  if (last == Stage::Graph)
    return true;
  // Attention as one op: no T×T scores buffer, the LSE kept for backward.
  pm.addPass(createFuseCausalAttention());
  // Fold reshape chains and drop what fusion left dead.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  return last == Stage::Fused;
}

/// From kernels to C++: shared by every mode. Stops after `last`.
static void addCodegen(OpPassManager &pm, const PipelineOptions &options,
                       Stage last) {
  // The number format of the matrix products (bf16 inputs, f32 sums).
  pm.addPass(createMatmulPrecision(MatmulPrecisionOptions{options.precision}));
  // One kernel call per op on flat buffers; parameters packed in one buffer.
  pm.addPass(createLowerToKernels());
  if (last == Stage::Kernels)
    return;
  // Every intermediate buffer becomes a view of one arena, by liveness.
  pm.addPass(createPlanMemory());
  if (last == Stage::Planned)
    return;
  // C++ through EmitC: kernel calls of the chosen backend.
  pm.addPass(createConvertToEmitC(
      ConvertToEmitCOptions{options.target, options.attention}));
}

void gptc::buildForwardPipeline(OpPassManager &pm,
                                const PipelineOptions &options, Stage last) {
  if (addFusedGraph(pm, last))
    return;
  addCodegen(pm, options, last);
}

void gptc::buildTrainPipeline(OpPassManager &pm, const PipelineOptions &options,
                              Stage last) {
  if (addFusedGraph(pm, last))
    return;
  // @train_step: @forward returning only the loss; canonicalize drops the
  // logits' consumers so that the head can fuse with the loss.
  pm.addPass(createMakeTrainStep());
  pm.addPass(createCanonicalizerPass());
  // lm_head + soft-cap + cross-entropy in token chunks: no [B, T, V] buffer.
  pm.addPass(createFuseLmHeadLoss());
  // Gradients of every parameter, from each op's VJP.
  pm.addPass(createAutodiff());
  pm.addPass(createCSEPass());
  if (last == Stage::Autodiff)
    return;
  // Keep or recompute each saved activation, per policy.
  pm.addPass(createRecompute(
      RecomputeOptions{options.recompute, options.memoryBudget}));
  if (last == Stage::Recompute)
    return;
  addCodegen(pm, options, last);
}

void gptc::buildDecodePipeline(OpPassManager &pm,
                               const PipelineOptions &options, Stage last) {
  if (addFusedGraph(pm, last))
    return;
  // Incremental functions over an explicit KV cache; drop what only fed the
  // loss.
  pm.addPass(
      createMakeDecode(MakeDecodeOptions{options.kvCapacity, options.kvDtype}));
  pm.addPass(createCanonicalizerPass());
  if (last == Stage::Decode)
    return;
  addCodegen(pm, options, last);
}

void gptc::buildPipeline(OpPassManager &pm, Mode mode,
                         const PipelineOptions &options, Stage last) {
  switch (mode) {
  case Mode::Forward:
    return buildForwardPipeline(pm, options, last);
  case Mode::Train:
    return buildTrainPipeline(pm, options, last);
  case Mode::Decode:
    return buildDecodePipeline(pm, options, last);
  }
}

namespace {
/// gptc-opt's pipeline options; their defaults are PipelineOptions', which
/// gptc's are too.
struct PipelineCLOptions : PassPipelineOptions<PipelineCLOptions> {
  template <typename E> using EnumOption = Option<E, EnumParser<E>>;
  static inline const PipelineOptions defaults{};
  EnumOption<Target> target{*this, "target", llvm::cl::desc("Backend"),
                            llvm::cl::init(defaults.target)};
  EnumOption<RecomputePolicy> recompute{
      *this, "recompute",
      llvm::cl::desc("Training: what to keep of the forward's activations"),
      llvm::cl::init(defaults.recompute)};
  Option<int64_t> memoryBudget{
      *this, "memory-budget",
      llvm::cl::desc("Training, recompute=auto: arena bytes"),
      llvm::cl::init(defaults.memoryBudget)};
  EnumOption<FloatFormat> precision{
      *this, "precision",
      llvm::cl::desc("Number format of the matrix products' inputs"),
      llvm::cl::init(defaults.precision)};
  EnumOption<FloatFormat> kvDtype{
      *this, "kv-dtype", llvm::cl::desc("Decoding: KV-cache element type"),
      llvm::cl::init(defaults.kvDtype)};
  Option<int64_t> kvCapacity{
      *this, "kv-capacity",
      llvm::cl::desc("Decoding: KV-cache slots per row (default: the "
                     "model's sequence_len)"),
      llvm::cl::init(defaults.kvCapacity)};
  EnumOption<AttentionImpl> attention{
      *this, "attention",
      llvm::cl::desc("Fused attention kernels (cudnn: CUDA targets only)"),
      llvm::cl::init(defaults.attention)};

  PipelineOptions get() const {
    return PipelineOptions{target,    recompute, memoryBudget, kvCapacity,
                           precision, kvDtype,   attention};
  }
};

template <void (*build)(OpPassManager &, const PipelineOptions &, Stage)>
static void registerPipeline(StringRef name, StringRef description) {
  PassPipelineRegistration<PipelineCLOptions>(
      name, description, [](OpPassManager &pm, const PipelineCLOptions &cl) {
        build(pm, cl.get(), Stage::EmitC);
      });
}
} // namespace

void gptc::registerPipelines() {
  registerPipeline<buildForwardPipeline>(
      "gptc-forward-pipeline",
      "Forward pass: fuse attention, lower to kernels, plan memory, EmitC");
  registerPipeline<buildTrainPipeline>(
      "gptc-train-pipeline",
      "Training: the forward pipeline plus @train_step with gradients");
  registerPipeline<buildDecodePipeline>(
      "gptc-decode-pipeline",
      "Decoding: prefill and step over an explicit KV cache");
}
