//===- MemoryPlan.h - liveness-based arena planning -------------*- C++ -*-===//
//
// The algorithm behind gptc-plan-memory, kept apart from the pass so that the
// driver can print the plan of a planned function (--emit=memory-plan).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_PASSES_MEMORYPLAN_H
#define GPTC_PASSES_MEMORYPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/raw_ostream.h"

namespace gptc {

/// One intermediate buffer: where it lives and when.
struct PlannedBuffer {
  mlir::Value
      value; // the memref.alloc result, or the arena view after planning
  int64_t bytes = 0;
  int64_t offset = 0;                // byte offset in the arena
  int64_t firstUse = 0, lastUse = 0; // op indices in the function body
};

struct MemoryPlan {
  std::vector<PlannedBuffer> buffers;
  int64_t arenaBytes = 0; // the arena size the offsets need
  int64_t lowerBound = 0; // the most bytes alive at any one op
};

/// Computes lifetimes of `values` (buffers defined in `func`'s single block)
/// and assigns non-overlapping offsets to buffers alive at the same time.
MemoryPlan planBuffers(mlir::func::FuncOp func,
                       llvm::ArrayRef<mlir::Value> values, int64_t alignment);

/// The arena of a planned function, and its packed parameter buffer.
struct ArenaSize {
  int64_t bytes = 0;      // gptc.arena_bytes
  int64_t lowerBound = 0; // gptc.arena_lower_bound
  int64_t paramBytes = 0; // gptc.param_bytes
};

/// The arena gptc-lower-to-kernels and gptc-plan-memory give the
/// tensor-level function `func`, computed on a lowered twin that is then
/// erased: `func` and its module are left as they were. How the `auto`
/// recompute policy and `gptc explain` size a graph's arena without running
/// the rest of the pipeline.
mlir::FailureOr<ArenaSize> planArena(mlir::func::FuncOp func);

/// Prints the plan of a function that gptc-plan-memory has run on: arena
/// size, lower bound, parameter bytes and the largest buffers.
void printMemoryPlan(mlir::func::FuncOp func, llvm::raw_ostream &os);

} // namespace gptc

#endif // GPTC_PASSES_MEMORYPLAN_H
