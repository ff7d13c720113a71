//===- PlanMemory.cpp - gptc-plan-memory ----------------------------------===//
//
// Liveness over the straight-line kernel sequence, then offsets by
// "largest first, lowest offset that does not overlap a buffer alive at the
// same time", then every memref.alloc becomes a view of one arena argument.
//
//===----------------------------------------------------------------------===//

#include "passes/KernelABI.h"
#include "passes/MemoryPlan.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/Format.h"

namespace gptc {
#define GEN_PASS_DEF_PLANMEMORY
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

static int64_t alignUp(int64_t value, int64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

static int64_t bufferBytes(Value v) {
  auto type = cast<MemRefType>(v.getType());
  return type.getNumElements() * type.getElementTypeBitWidth() / 8;
}

MemoryPlan gptc::planBuffers(func::FuncOp func, ArrayRef<Value> values,
                             int64_t alignment) {
  DenseMap<Operation *, int64_t> index;
  for (auto [i, op] : llvm::enumerate(func.getBody().front()))
    index[&op] = i;

  MemoryPlan plan;
  for (Value v : values) {
    PlannedBuffer buffer;
    buffer.value = v;
    buffer.bytes = alignUp(bufferBytes(v), alignment);
    buffer.firstUse = buffer.lastUse = index.lookup(v.getDefiningOp());
    for (Operation *user : v.getUsers())
      buffer.lastUse = std::max(buffer.lastUse, index.lookup(user));
    plan.buffers.push_back(buffer);
  }

  // Largest first; ties by first use keep the plan deterministic.
  std::vector<PlannedBuffer *> order;
  for (PlannedBuffer &buffer : plan.buffers)
    order.push_back(&buffer);
  std::stable_sort(order.begin(), order.end(),
                   [](const PlannedBuffer *a, const PlannedBuffer *b) {
                     return a->bytes > b->bytes;
                   });
  std::vector<const PlannedBuffer *> placed;
  for (PlannedBuffer *buffer : order) {
    // Occupied intervals of buffers whose lifetimes intersect this one.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (const PlannedBuffer *other : placed)
      if (other->firstUse <= buffer->lastUse &&
          buffer->firstUse <= other->lastUse)
        busy.push_back({other->offset, other->offset + other->bytes});
    llvm::sort(busy);
    int64_t offset = 0;
    for (auto [begin, end] : busy) {
      if (offset + buffer->bytes <= begin)
        break;
      offset = std::max(offset, end);
    }
    buffer->offset = offset;
    plan.arenaBytes = std::max(plan.arenaBytes, offset + buffer->bytes);
    placed.push_back(buffer);
  }

  // The lower bound: bytes alive at the busiest op.
  int64_t numOps = index.size();
  std::vector<int64_t> live(numOps + 1, 0);
  for (const PlannedBuffer &buffer : plan.buffers) {
    live[buffer.firstUse] += buffer.bytes;
    live[buffer.lastUse + 1] -= buffer.bytes;
  }
  int64_t running = 0;
  for (int64_t delta : live) {
    running += delta;
    plan.lowerBound = std::max(plan.lowerBound, running);
  }
  return plan;
}

/// The arena argument of a planned function, if any.
static BlockArgument findArena(func::FuncOp func) {
  for (BlockArgument arg : func.getArguments())
    if (auto role = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                      kBufferRoleAttrName))
      if (role.getValue() == "arena")
        return arg;
  return {};
}

void gptc::printMemoryPlan(func::FuncOp func, raw_ostream &os) {
  auto attrOr0 = [&](StringRef name) {
    auto attr = func->getAttrOfType<IntegerAttr>(name);
    return attr ? attr.getInt() : int64_t(0);
  };
  SmallVector<Value> views;
  if (BlockArgument arena = findArena(func))
    for (Operation *user : arena.getUsers())
      views.push_back(user->getResult(0));
  // Re-deriving lifetimes from the planned IR shows what the program does.
  MemoryPlan plan = planBuffers(func, views, 1);
  for (PlannedBuffer &buffer : plan.buffers) {
    auto view = buffer.value.getDefiningOp<memref::ViewOp>();
    buffer.offset = getConstantIntValue(view.getByteShift()).value_or(0);
  }
  int64_t arenaBytes = attrOr0(kArenaBytesAttrName);
  int64_t lowerBound = attrOr0(kArenaLowerBoundAttrName);
  auto mib = [](int64_t bytes) { return double(bytes) / (1 << 20); };

  os << "memory plan of @" << func.getName() << "\n";
  os << llvm::format("  parameters   %14lld bytes (%.2f MiB)\n",
                     (long long)attrOr0(kParamBytesAttrName),
                     mib(attrOr0(kParamBytesAttrName)));
  os << llvm::format("  arena        %14lld bytes (%.2f MiB)\n",
                     (long long)arenaBytes, mib(arenaBytes));
  os << llvm::format("  lower bound  %14lld bytes (%.2f MiB), arena/bound = "
                     "%.3f\n",
                     (long long)lowerBound, mib(lowerBound),
                     lowerBound ? double(arenaBytes) / lowerBound : 1.0);
  os << "  buffers      " << plan.buffers.size() << "\n";

  std::vector<PlannedBuffer> largest = plan.buffers;
  std::stable_sort(largest.begin(), largest.end(),
                   [](const PlannedBuffer &a, const PlannedBuffer &b) {
                     return a.bytes > b.bytes;
                   });
  largest.resize(std::min<size_t>(largest.size(), 10));
  os << "  largest buffers:\n";
  os << "    bytes         offset        live ops   produced at\n";
  for (const PlannedBuffer &buffer : largest) {
    std::string where;
    Operation *writer = nullptr;
    for (Operation *user : buffer.value.getUsers())
      if (auto kernel = dyn_cast<KernelOp>(user))
        if (llvm::is_contained(kernel.getOutputs(), buffer.value)) {
          writer = user;
          break;
        }
    if (writer)
      where = describeLocation(writer->getLoc());
    os << llvm::format("    %-13lld %-13lld %4lld-%-6lld ",
                       (long long)buffer.bytes, (long long)buffer.offset,
                       (long long)buffer.firstUse, (long long)buffer.lastUse)
       << where << "\n";
  }
}

/// The buffers gptc-plan-memory places: every memref.alloc of `func`'s one
/// block. Errors on what it cannot place.
static FailureOr<SmallVector<Value>> plannableAllocs(func::FuncOp func) {
  if (!func.getBody().hasOneBlock())
    return func.emitError("expects a function with one block");
  SmallVector<Value> allocs;
  for (Operation &op : func.getBody().front()) {
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      if (!alloc.getType().hasStaticShape() ||
          !alloc.getType().getLayout().isIdentity())
        return alloc.emitError("expects a static, identity-layout buffer");
      allocs.push_back(alloc);
    }
    if (isa<memref::DeallocOp>(op))
      return op.emitError("expects no deallocations: lifetimes come from "
                          "liveness");
  }
  return allocs;
}

FailureOr<ArenaSize> gptc::planArena(func::FuncOp func) {
  FailureOr<func::FuncOp> lowered = lowerFunctionToKernels(func);
  if (failed(lowered))
    return failure();
  FailureOr<SmallVector<Value>> allocs = plannableAllocs(*lowered);
  std::optional<ArenaSize> size;
  if (succeeded(allocs)) {
    MemoryPlan plan = planBuffers(*lowered, *allocs, kBufferAlignment);
    size = ArenaSize{
        plan.arenaBytes, plan.lowerBound,
        (*lowered)->getAttrOfType<IntegerAttr>(kParamBytesAttrName).getInt()};
  }
  lowered->erase();
  if (!size)
    return failure();
  return *size;
}

namespace {

struct PlanMemory : gptc::impl::PlanMemoryBase<PlanMemory> {
  using PlanMemoryBase::PlanMemoryBase;

  void runOnOperation() override {
    if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
      getOperation().emitError("alignment must be a power of two, got ")
          << static_cast<int64_t>(alignment);
      return signalPassFailure();
    }
    for (func::FuncOp func : getOperation().getOps<func::FuncOp>())
      if (!func.isExternal() && failed(planFunction(func)))
        return signalPassFailure();
  }

  LogicalResult planFunction(func::FuncOp func) {
    FailureOr<SmallVector<Value>> allocs = plannableAllocs(func);
    if (failed(allocs))
      return failure();
    MemoryPlan plan = planBuffers(func, *allocs, alignment);

    OpBuilder b(func.getContext());
    unsigned arenaIndex = func.getNumArguments();
    func.insertArgument(arenaIndex,
                        MemRefType::get({plan.arenaBytes}, b.getI8Type()),
                        b.getDictionaryAttr(b.getNamedAttr(
                            kBufferRoleAttrName, b.getStringAttr("arena"))),
                        func.getLoc());
    Value arena = func.getArgument(arenaIndex);
    for (const PlannedBuffer &buffer : plan.buffers) {
      Operation *alloc = buffer.value.getDefiningOp();
      b.setInsertionPoint(alloc);
      Value shift =
          b.create<arith::ConstantIndexOp>(alloc->getLoc(), buffer.offset);
      Value view = b.create<memref::ViewOp>(
          alloc->getLoc(), buffer.value.getType(), arena, shift, ValueRange{});
      alloc->getResult(0).replaceAllUsesWith(view);
      alloc->erase();
    }
    func->setAttr(kArenaBytesAttrName, b.getI64IntegerAttr(plan.arenaBytes));
    func->setAttr(kArenaLowerBoundAttrName,
                  b.getI64IntegerAttr(plan.lowerBound));
    return success();
  }
};

} // namespace
