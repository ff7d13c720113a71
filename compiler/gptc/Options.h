//===- Options.h - what the gptc command line asks for ----------*- C++ -*-===//
//
// The command line is parsed and checked once, into a DriverOptions value
// that `gptc compile`, `gptc verify` and `gptc explain` take.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_COMPILER_GPTC_OPTIONS_H
#define GPTC_COMPILER_GPTC_OPTIONS_H

#include "compiler/EnumOption.h"
#include "compiler/Pipelines.h"
#include "compiler/Targets.h"
#include "compiler/gptc/Compile.h"

#include <optional>
#include <string>

namespace gptc {

/// What `gptc compile --emit=` produces: an IR stage, or one of these.
enum class Emit {
  Config,
  Graph,
  Fused,
  Autodiff,
  Recompute,
  DecodeGraph,
  Kernels,
  Planned,
  MemoryPlan,
  EmitC,
  Cpp,
  Exe
};

template <> struct EnumTraits<Emit> {
  static llvm::ArrayRef<EnumEntry<Emit>> entries() {
    static constexpr EnumEntry<Emit> kEntries[] = {
        {Emit::Exe, "exe", "an executable, its source kept beside it"},
        {Emit::Config, "config", "the model definition as gptc reads it"},
        {Emit::Graph, "graph", "the tensor graph the frontend builds"},
        {Emit::Fused, "fused", "after attention fusion"},
        {Emit::Autodiff, "autodiff", "train: with @train_step's gradients"},
        {Emit::Recompute, "recompute", "train: after the recompute policy"},
        {Emit::DecodeGraph, "decode-graph",
         "decode: @prefill and @step over the KV cache"},
        {Emit::Kernels, "kernels", "one kernel call per op on buffers"},
        {Emit::Planned, "planned", "buffers as views of one arena"},
        {Emit::MemoryPlan, "memory-plan", "the arena's offsets and lifetimes"},
        {Emit::EmitC, "emitc", "the EmitC IR of the program"},
        {Emit::Cpp, "cpp", "the program's C++ (CUDA) source"},
    };
    return kEntries;
  }
};

/// The pipeline stage that `emit` prints, or stops after; none for config.
std::optional<Stage> stageFor(Emit emit);

/// The main() a compiled program links (libgptc_host_<name>.a).
enum class Host { Forward, Train, Decode, GradCheck, DecodeCheck };

template <> struct EnumTraits<Host> {
  static llvm::ArrayRef<EnumEntry<Host>> entries() {
    static constexpr EnumEntry<Host> kEntries[] = {
        {Host::Forward, "forward", "logits and loss of a token file"},
        {Host::Train, "train", "the training program"},
        {Host::Decode, "decode", "the decode program"},
        {Host::GradCheck, "gradcheck",
         "--mode=train: writes logits, loss and gradients"},
        {Host::DecodeCheck, "decodecheck",
         "--mode=decode: writes greedy step logits"},
    };
    return kEntries;
  }
};

/// The mode whose functions `host` calls.
Mode modeOf(Host host);
/// A mode's own host program.
Host hostFor(Mode mode);

/// Sequences per micro-batch of a training graph unless --batch says.
inline constexpr int64_t kDefaultTrainBatch = 4;

/// `gptc verify`'s tolerances given on the command line; none: the
/// bundle's, or the target's.
struct ToleranceOverrides {
  std::optional<double> logits;
  std::optional<double> loss;
  std::optional<double> grads;
};

/// Everything the command line asks of compile, verify and explain.
struct DriverOptions {
  std::string input;  // model definition, .mlir or bundle folder
  std::string output; // -o; empty: stdout or the input's stem
  Emit emit = Emit::Exe;
  Mode mode = Mode::Forward;
  Host host = Host::Forward;
  PipelineOptions pipeline;
  /// The graph's shapes; batch 0: the mode's default (batchFor).
  GraphShape shape{/*batch=*/0};
  int64_t ranks = 1; // explain: data-parallel ranks
  bool noLocs = false;
  std::string cxx = "c++";
  std::string workDir; // verify: keep programs and outputs here
  ToleranceOverrides tolerances;

  const TargetInfo &targetInfo() const {
    return getTargetInfo(pipeline.target);
  }
  /// B of a `mode` graph: --batch, else 1 (training: kDefaultTrainBatch).
  int64_t batchFor(Mode graphMode) const {
    if (shape.batch > 0)
      return shape.batch;
    return graphMode == Mode::Train ? kDefaultTrainBatch : 1;
  }
};

/// `gptc verify <bundle>`; returns the process exit code.
int runVerify(const DriverOptions &options);
/// `gptc explain <model>`; returns the process exit code.
int runExplain(const DriverOptions &options);

} // namespace gptc

#endif // GPTC_COMPILER_GPTC_OPTIONS_H
