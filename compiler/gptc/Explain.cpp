//===- Explain.cpp - `gptc explain <model>` -------------------------------===//
//
// What training a model costs, read off the compiled training graph:
// parameters, FLOPs per token, and per recompute policy the planned
// activation arena, the extra FLOPs and the predicted peak memory.
//
//===----------------------------------------------------------------------===//

#include "compiler/gptc/Compile.h"
#include "compiler/gptc/Options.h"
#include "ir/GptcAttrs.h"
#include "passes/KernelABI.h"
#include "passes/MemoryPlan.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/Format.h"

#include "backends/common/Sharding.h"

#include <map>

using namespace mlir;
using namespace gptc;

namespace {

/// One recompute policy's plan of the training step.
struct PolicyPlan {
  std::string policy;
  std::string layers;     // the per-layer choice
  int64_t stepFlops = 0;  // FLOPs of one training step, recompute included
  int64_t extraFlops = 0; // of which recomputation
  int64_t arenaBytes = 0;
  int64_t lowerBound = 0;
  int64_t programArena = 0; // the program's arena: max(train_step, forward)
  int64_t savedBytes = 0; // forward values inside the layers the backward reads
  // The packed parameters, in buffer order: name and element count.
  std::vector<std::pair<std::string, int64_t>> params;
  int64_t paramBytes = 0; // of the packed buffer, alignment included
};

} // namespace

/// Bytes of the values computed inside the transformer layers (gptc.layer)
/// that the backward reads: what a policy keeps alive from the forward into
/// the backward.
static int64_t savedLayerBytes(func::FuncOp func) {
  llvm::SmallPtrSet<Value, 32> saved;
  func.walk([&](Operation *op) {
    if (!op->hasAttr(kBackwardAttrName))
      return;
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (def && !def->hasAttr(kBackwardAttrName) && layerOf(def))
        saved.insert(operand);
    }
  });
  int64_t bytes = 0;
  for (Value v : saved)
    if (!isa<ViewLikeOpInterface>(v.getDefiningOp())) // a view holds nothing
      bytes += cast<RankedTensorType>(v.getType()).getNumElements() * 4;
  return bytes;
}

/// FLOPs of every op of `func` (CostOpInterface).
static int64_t sumFlops(func::FuncOp func) {
  int64_t flops = 0;
  func.walk([&](CostOpInterface op) { flops += op.getFlops(); });
  return flops;
}

static std::string mib(int64_t bytes) {
  return llvm::formatv("{0:F1} MiB", double(bytes) / (1 << 20)).str();
}

/// Compiles the model's training step under `options` up to the memory plan.
static FailureOr<PolicyPlan> planPolicy(StringRef input, int64_t batch,
                                        int64_t seqLen,
                                        const PipelineOptions &options,
                                        int64_t &forwardFlops) {
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module =
      loadModule(ctx, input, Mode::Train, GraphShape{batch, seqLen});
  if (!module ||
      failed(runPipeline(*module, Mode::Train, options, Stage::Recompute)))
    return failure();
  PolicyPlan plan;
  plan.policy = enumName(options.recompute).str();
  auto step = module->lookupSymbol<func::FuncOp>("train_step");
  plan.stepFlops = sumFlops(step);
  plan.extraFlops =
      step->getAttrOfType<IntegerAttr>(kRecomputeFlopsAttrName).getInt();
  plan.layers = step->getAttrOfType<StringAttr>(kRecomputeAttrName).str();
  plan.savedBytes = savedLayerBytes(step);
  forwardFlops = sumFlops(module->lookupSymbol<func::FuncOp>("forward"));

  // The memory plan of the recomputed step, as the rest of the pipeline
  // would make it.
  FailureOr<ArenaSize> stepArena = planArena(step);
  FailureOr<ArenaSize> forwardArena =
      planArena(module->lookupSymbol<func::FuncOp>("forward"));
  if (failed(stepArena) || failed(forwardArena))
    return failure();
  plan.arenaBytes = stepArena->bytes;
  plan.lowerBound = stepArena->lowerBound;
  // The training program runs both functions on one arena.
  plan.programArena = std::max(plan.arenaBytes, forwardArena->bytes);
  plan.paramBytes = stepArena->paramBytes;
  for (BlockArgument arg : step.getArguments())
    if (auto name = step.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                      kParamAttrName))
      plan.params.push_back(
          {name.getValue().str(),
           cast<RankedTensorType>(arg.getType()).getNumElements()});
  return plan;
}

/// Memory per rank of a data-parallel training run on `ranks` ranks
/// (backends/host/Distributed.h): every rank keeps the parameters, the
/// step's gradient sum, one micro-batch's gradient, the pieces of its shard
/// it receives [ranks, largest shard] and the arena; the optimizer state
/// (AdamW m and v for the embedding and lm_head, Muon momentum for the
/// block matrices) only for the parameters it owns.
static void printRanks(const PolicyPlan &plan, int64_t ranks) {
  std::vector<int64_t> sizes; // [params]
  for (const auto &param : plan.params)
    sizes.push_back(param.second);
  std::vector<size_t> first = shardParameters(sizes, ranks);
  int64_t largestShard = 0;
  for (int64_t r = 0; r < ranks; ++r) {
    int64_t shard = 0;
    for (size_t i = first[r]; i < first[r + 1]; ++i)
      shard += 4 * sizes[i];
    largestShard = std::max(largestShard, shard);
  }
  const int64_t gradientBytes = 2 * plan.paramBytes + ranks * largestShard;
  auto &out = llvm::outs();
  out << llvm::format("\n  data-parallel on %lld ranks (recompute=%s): "
                      "parameters %s and gradient buffers %s on every rank\n",
                      (long long)ranks, plan.policy.c_str(),
                      mib(plan.paramBytes).c_str(), mib(gradientBytes).c_str());
  out << "  rank   owns parameters                    optimizer state   "
         "predicted peak (params+gradients+own optimizer state+arena)\n";
  for (int64_t r = 0; r < ranks; ++r) {
    int64_t state = 0;
    for (size_t i = first[r]; i < first[r + 1]; ++i)
      state +=
          4 * sizes[i] *
          (StringRef(plan.params[i].first).starts_with("transformer.h.") ? 1
                                                                         : 2);
    std::string owns =
        first[r] == first[r + 1]
            ? std::string("none")
            : llvm::formatv("{0} .. {1} ({2})", first[r], first[r + 1] - 1,
                            first[r + 1] - first[r])
                  .str();
    out << llvm::format(
        "  %4lld   %-32s   %15s   %16s\n", (long long)r, owns.c_str(),
        mib(state).c_str(),
        mib(plan.paramBytes + gradientBytes + state + plan.programArena)
            .c_str());
  }
}

int gptc::runExplain(const DriverOptions &options) {
  llvm::Expected<GPTConfig> config = loadModelConfig(options.input);
  if (!config) {
    llvm::errs() << llvm::toString(config.takeError()) << "\n";
    return 1;
  }
  int64_t B = options.batchFor(Mode::Train);
  int64_t T = options.shape.seqLen ? options.shape.seqLen : config->sequenceLen;
  int64_t L = config->nLayer, C = config->nEmbd, V = config->vocabSize,
          D = config->headDim(), Hkv = config->nKvHead;
  int64_t params = config->numParameters();
  // Persistent training state: parameters, gradients, and the optimizer's
  // (AdamW m and v for the embedding and lm_head, Muon momentum for the
  // block matrices).
  int64_t paramBytes = 4 * params;
  int64_t embeddingParams = 2 * V * C;
  int64_t optimizerBytes =
      4 * (2 * embeddingParams + (params - embeddingParams));

  std::vector<PipelineOptions> policies;
  for (RecomputePolicy policy : {RecomputePolicy::None, RecomputePolicy::Minimal,
                                 RecomputePolicy::Full, RecomputePolicy::Auto}) {
    if (policy == RecomputePolicy::Auto && options.pipeline.memoryBudget == 0)
      continue; // auto needs a budget
    PipelineOptions plan = options.pipeline;
    plan.recompute = policy;
    policies.push_back(plan);
  }
  std::vector<PolicyPlan> plans;
  int64_t forwardFlops = 0;
  for (const PipelineOptions &policy : policies) {
    FailureOr<PolicyPlan> plan =
        planPolicy(options.input, B, T, policy, forwardFlops);
    if (failed(plan))
      return 1;
    plans.push_back(*plan);
  }

  int64_t tokens = B * T;
  auto &out = llvm::outs();
  out << "model " << config->name << ": L=" << L << " H=" << config->nHead
      << " Hkv=" << Hkv << " C=" << C << " D=" << D << " V=" << V
      << "; training batch B=" << B << " x T=" << T << " = " << tokens
      << " tokens\n";
  out << llvm::format("  parameters         %14lld  (%s fp32; gradients the "
                      "same; optimizer state %s)\n",
                      (long long)params, mib(paramBytes).c_str(),
                      mib(optimizerBytes).c_str());
  out << llvm::format("  forward FLOPs/token   %11.4g  (from the graph)\n",
                      double(forwardFlops) / tokens);
  out << llvm::format("  training FLOPs/token  %11.4g  (forward + backward, "
                      "recompute=none; 6N + 12LCT/2 = %.4g)\n",
                      double(plans[0].stepFlops) / tokens,
                      6.0 * (params - V * C) + 6.0 * L * C * T);
  out << llvm::format("  KV cache             %11lld bytes/token for decode "
                      "(2·L·Hkv·D fp32)\n",
                      (long long)(2 * L * Hkv * D * 4));
  // kernels.md §4.2's per-token, per-layer activation formulas, in fp32
  // (4 bytes an element; C' = Hkv·D): save-all 4(15C + 3C'), minimal
  // 4(8C + 2C') + 4(2 + 2H + Hkv), full-block 4C.
  int64_t Cp = Hkv * D, H = config->nHead;
  std::map<std::string, int64_t> formula = {
      {"none", 4 * (15 * C + 3 * Cp)},
      {"minimal", 4 * (8 * C + 2 * Cp) + 4 * (2 + 2 * H + Hkv)},
      {"full", 4 * C}};
  out << "\n  recompute   activation arena   lower bound   extra FLOPs/step"
         "   predicted peak (params+grads+optimizer+program arena)   layers\n";
  for (const PolicyPlan &plan : plans) {
    int64_t peak = 2 * paramBytes + optimizerBytes + plan.programArena;
    out << llvm::format(
               "  %-10s  %16s   %11s   %10.3g (+%4.1f%%)   %16s   ",
               plan.policy.c_str(), mib(plan.arenaBytes).c_str(),
               mib(plan.lowerBound).c_str(), double(plan.extraFlops),
               100.0 * plan.extraFlops /
                   std::max<int64_t>(1, plan.stepFlops - plan.extraFlops),
               mib(peak).c_str())
        << plan.layers << "\n";
  }
  if (options.ranks > 1)
    printRanks(plans[0], options.ranks);
  out << "\n  saved for the backward, bytes per token per layer (kernels.md "
         "§4.2 formula, fp32):\n";
  for (const PolicyPlan &plan : plans) {
    out << llvm::format("  %-10s  %8lld", plan.policy.c_str(),
                        (long long)(plan.savedBytes / (tokens * L)));
    if (formula.count(plan.policy))
      out << llvm::format("   (formula %lld)", (long long)formula[plan.policy]);
    out << "\n";
  }
  return 0;
}
