//===- Recompute.cpp - gptc-recompute -------------------------------------===//
//
// Activation checkpointing. The backward of a differentiated function reads
// forward values ("saved" values). Each one is either kept alive from the
// forward on, or recomputed: its op is cloned right before the backward first
// needs it, and the memory planner then reuses the original's bytes.
//
//===----------------------------------------------------------------------===//

#include "ir/GptcAttrs.h"
#include "passes/KernelABI.h"
#include "passes/MemoryPlan.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace gptc {
#define GEN_PASS_DEF_RECOMPUTE
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

enum class LayerPolicy { Minimal, Full };

static bool isBackward(Operation *op) { return op->hasAttr(kBackwardAttrName); }

static bool isCheap(Operation *op) {
  if (isa<ViewLikeOpInterface>(op))
    return true;
  auto cost = dyn_cast<CostOpInterface>(op);
  return cost && cost.isCheapToRecompute();
}

/// Recomputes a chosen set of forward values in one differentiated function.
class Rematerializer {
public:
  explicit Rematerializer(func::FuncOp func) : func(func) {
    for (auto [i, op] : llvm::enumerate(func.getBody().front()))
      order[&op] = i;
  }

  /// The forward values some backward op reads.
  llvm::SetVector<Value> savedValues();
  /// Values to recompute under `policies` (one per layer; layers beyond the
  /// vector and ops outside layers use `minimal`).
  llvm::SetVector<Value> choose(ArrayRef<LayerPolicy> policies);
  /// Clones the ops of `values` before their first backward use; returns
  /// the FLOPs added.
  int64_t apply(const llvm::SetVector<Value> &values);

private:
  func::FuncOp func;
  DenseMap<Operation *, int64_t> order;
};

llvm::SetVector<Value> Rematerializer::savedValues() {
  llvm::SetVector<Value> saved;
  for (Operation &op : func.getBody().front()) {
    if (!isBackward(&op))
      continue;
    for (Value operand : op.getOperands())
      if (Operation *def = operand.getDefiningOp(); def && !isBackward(def))
        saved.insert(operand);
  }
  return saved;
}

llvm::SetVector<Value> Rematerializer::choose(ArrayRef<LayerPolicy> policies) {
  llvm::SetVector<Value> saved = savedValues(), chosen;
  auto policyOf = [&](Operation *op) {
    std::optional<int64_t> layer = layerOf(op);
    return layer && *layer < int64_t(policies.size()) ? policies[*layer]
                                                      : LayerPolicy::Minimal;
  };
  // A layer's outputs (values read by forward ops outside the layer) are
  // its checkpoints: always kept, the next layer starts from them.
  auto isCheckpoint = [&](Value v) {
    std::optional<int64_t> layer = layerOf(v.getDefiningOp());
    return llvm::any_of(v.getUsers(), [&](Operation *user) {
      return !isBackward(user) && layerOf(user) != layer;
    });
  };
  // Full layers: every other saved value the layer produces, and what the
  // layer computes them from (a backward walk inside the layer).
  SmallVector<Value> work;
  for (Value v : saved)
    if (layerOf(v.getDefiningOp()) &&
        policyOf(v.getDefiningOp()) == LayerPolicy::Full && !isCheckpoint(v))
      work.push_back(v);
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!chosen.insert(v))
      continue;
    Operation *def = v.getDefiningOp();
    for (Value result : def->getResults())
      if (saved.contains(result))
        chosen.insert(result);
    for (Value operand : def->getOperands())
      if (Operation *producer = operand.getDefiningOp();
          producer && layerOf(producer) == layerOf(def) &&
          !isCheckpoint(operand))
        work.push_back(operand);
  }
  // Minimal: in forward order, a cheap op whose operands are kept or
  // recomputed anyway, so recomputing never keeps anything new alive.
  for (Operation &op : func.getBody().front()) {
    if (isBackward(&op) || !isCheap(&op) || op.getNumResults() != 1 ||
        !saved.contains(op.getResult(0)) || chosen.contains(op.getResult(0)))
      continue;
    bool available = llvm::all_of(op.getOperands(), [&](Value operand) {
      return isa<BlockArgument>(operand) || saved.contains(operand) ||
             chosen.contains(operand);
    });
    if (available)
      chosen.insert(op.getResult(0));
  }
  return chosen;
}

int64_t Rematerializer::apply(const llvm::SetVector<Value> &values) {
  // The ops to clone, in forward order (a multi-result op once).
  llvm::SetVector<Operation *> ops;
  for (Value v : values)
    ops.insert(v.getDefiningOp());
  SmallVector<Operation *> sorted(ops.begin(), ops.end());
  llvm::sort(sorted,
             [&](Operation *a, Operation *b) { return order[a] < order[b]; });

  // Where each clone goes: before its first backward user, or earlier if a
  // clone that reads it goes earlier (reverse order settles users first).
  DenseMap<Operation *, Operation *> insertBefore;
  auto earlier = [&](Operation *a, Operation *b) {
    return !a ? b : !b ? a : order[a] < order[b] ? a : b;
  };
  for (Operation *op : llvm::reverse(sorted)) {
    Operation *at = nullptr;
    for (Value result : op->getResults())
      for (Operation *user : result.getUsers()) {
        if (isBackward(user))
          at = earlier(at, user);
        else if (ops.contains(user))
          at = earlier(at, insertBefore.lookup(user));
      }
    insertBefore[op] = at;
  }

  int64_t flops = 0;
  IRMapping clones;
  OpBuilder b(func.getContext());
  for (Operation *op : sorted) {
    b.setInsertionPoint(insertBefore[op]);
    Operation *clone = b.clone(*op, clones);
    clone->setAttr(kBackwardAttrName, b.getUnitAttr());
    if (auto cost = dyn_cast<CostOpInterface>(clone))
      flops += cost.getFlops();
    // Backward readers now read the clone; forward readers the original.
    for (auto [original, copy] :
         llvm::zip(op->getResults(), clone->getResults()))
      original.replaceUsesWithIf(copy, [&](OpOperand &use) {
        return isBackward(use.getOwner()) && use.getOwner() != clone;
      });
  }
  return flops;
}

/// Number of transformer layers: one more than the largest layer index.
static int64_t countLayers(func::FuncOp func) {
  int64_t layers = 0;
  func.walk([&](Operation *op) {
    if (std::optional<int64_t> layer = layerOf(op))
      layers = std::max(layers, *layer + 1);
  });
  return layers;
}

static std::string describePolicies(ArrayRef<LayerPolicy> policies) {
  std::string out;
  for (auto [i, policy] : llvm::enumerate(policies))
    out += (i ? "," : "") +
           enumName(policy == LayerPolicy::Full ? RecomputePolicy::Full
                                                 : RecomputePolicy::Minimal)
               .str();
  return out;
}

struct Recompute : gptc::impl::RecomputeBase<Recompute> {
  using RecomputeBase::RecomputeBase;

  /// Applies `policies` to `func` and records the choice.
  static void applyPolicies(func::FuncOp func, ArrayRef<LayerPolicy> policies) {
    Rematerializer remat(func);
    int64_t flops = remat.apply(remat.choose(policies));
    OpBuilder b(func.getContext());
    func->setAttr(kRecomputeAttrName,
                  b.getStringAttr(describePolicies(policies)));
    func->setAttr(kRecomputeFlopsAttrName, b.getI64IntegerAttr(flops));
  }

  /// The planned arena of `func` under `policies`, on a copy of `func`.
  static FailureOr<int64_t> arenaBytes(func::FuncOp func,
                                       ArrayRef<LayerPolicy> policies) {
    OwningOpRef<ModuleOp> scratch = ModuleOp::create(func.getLoc());
    auto copy = cast<func::FuncOp>(func->clone());
    scratch->push_back(copy);
    applyPolicies(copy, policies);
    FailureOr<ArenaSize> arena = planArena(copy);
    if (failed(arena))
      return failure();
    return arena->bytes;
  }

  void runOnOperation() override {
    auto func = getOperation().lookupSymbol<func::FuncOp>(function);
    if (!func || func.isExternal()) {
      getOperation().emitError("no function @")
          << function << " to recompute in";
      return signalPassFailure();
    }
    int64_t layers = countLayers(func);
    SmallVector<LayerPolicy> policies(layers, LayerPolicy::Minimal);
    if (policy == RecomputePolicy::None) {
      func->setAttr(kRecomputeAttrName,
                    StringAttr::get(&getContext(),
                                    enumName(RecomputePolicy::None)));
      func->setAttr(kRecomputeFlopsAttrName,
                    IntegerAttr::get(IntegerType::get(&getContext(), 64), 0));
      return;
    }
    if (policy == RecomputePolicy::Full)
      policies.assign(layers, LayerPolicy::Full);
    else if (policy == RecomputePolicy::Auto) {
      if (memoryBudget <= 0) {
        func.emitError("--recompute=auto needs a positive memory budget");
        return signalPassFailure();
      }
      // Layers are alike, so the fewest full layers costs the least extra
      // compute: make layers full from the first on until the plan fits.
      int64_t full = 0;
      for (;; ++full) {
        std::fill(policies.begin(), policies.begin() + full, LayerPolicy::Full);
        FailureOr<int64_t> bytes = arenaBytes(func, policies);
        if (failed(bytes))
          return signalPassFailure();
        if (*bytes <= memoryBudget)
          break;
        if (full == layers) {
          func.emitError("the memory budget of ")
              << static_cast<int64_t>(memoryBudget)
              << " bytes is below the smallest plan, " << *bytes
              << " bytes with every layer recomputed";
          return signalPassFailure();
        }
      }
    }
    applyPolicies(func, policies);
  }
};

} // namespace
