//===- Pipelines.cpp - the pass pipelines gptc and gptc-opt share ---------===//

#include "compiler/Pipelines.h"

#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace gptc;

static constexpr std::pair<Stage, llvm::StringLiteral> kStageNames[] = {
    {Stage::Graph, "graph"},     {Stage::Fused, "fused"},
    {Stage::Kernels, "kernels"}, {Stage::Planned, "planned"},
    {Stage::EmitC, "emitc"},
};

StringRef gptc::stageName(Stage stage) {
  for (auto [s, name] : kStageNames)
    if (s == stage)
      return name;
  return "";
}

std::optional<Stage> gptc::parseStage(StringRef name) {
  for (auto [s, stageNameStr] : kStageNames)
    if (stageNameStr == name)
      return s;
  return std::nullopt;
}

void gptc::buildForwardPipeline(OpPassManager &pm,
                                const PipelineOptions &options, Stage last) {
  if (last == Stage::Graph)
    return;
  // Attention as one fused op: no T×T scores buffer, LSE kept for backward.
  pm.addPass(createFuseCausalAttention());
  // Fold reshape chains and drop what fusion left dead.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (last == Stage::Fused)
    return;
  // One kernel call per op on flat buffers; parameters packed in one buffer.
  pm.addPass(createLowerToKernels());
  if (last == Stage::Kernels)
    return;
  // Every intermediate buffer becomes a view of one arena, by liveness.
  pm.addPass(createPlanMemory());
  if (last == Stage::Planned)
    return;
  // C++ through EmitC: kernel calls of the chosen backend.
  pm.addPass(createConvertToEmitC(ConvertToEmitCOptions{options.target}));
}

namespace {
struct PipelineCLOptions : PassPipelineOptions<PipelineCLOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("Backend: cpu or cuda"),
                             llvm::cl::init("cpu")};
};
} // namespace

void gptc::registerPipelines() {
  PassPipelineRegistration<PipelineCLOptions>(
      "gptc-forward-pipeline",
      "Forward pass: fuse attention, lower to kernels, plan memory, EmitC",
      [](OpPassManager &pm, const PipelineCLOptions &cl) {
        buildForwardPipeline(pm, PipelineOptions{cl.target});
      });
}
