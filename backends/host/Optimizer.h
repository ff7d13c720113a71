//===- Optimizer.h - AdamW and Muon on the packed parameters ----*- C++ -*-===//
//
// The optimizer of nanochat's classic launch model, in float32:
//   - AdamW (betas 0.8, 0.95, eps 1e-10, no weight decay, bias correction)
//     for transformer.wte.weight (lr 0.2 s) and lm_head.weight (lr 0.004 s),
//     s = (C / 768)^-0.5;
//   - Muon (lr 0.02, Nesterov momentum 0.95, 5 Newton-Schulz iterations) for
//     every matrix of a transformer block (BufferInfo::layer >= 0: those
//     under transformer.h.).
// With OptimizerKind::AdamW those matrices use AdamW too, at lr 3e-3 s.
// Every learning rate is multiplied by --lr-scale and by the schedule's
// multiplier. Parameters and gradients are views of the packed buffers the
// generated code uses (byte offsets from ProgramInfo), in device memory; so
// is the optimizer state. The math itself is the device's (Device.h).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_OPTIMIZER_H
#define GPTC_BACKENDS_HOST_OPTIMIZER_H

#include "backends/common/Program.h"
#include "backends/common/Safetensors.h"
#include "backends/common/Status.h"
#include "backends/host/Device.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gptc::host {

constexpr double kAdamBeta1 = 0.8;
constexpr double kAdamBeta2 = 0.95;
constexpr double kAdamEps = 1e-10;
// Learning rates; s = (C / 768)^-0.5.
constexpr double kEmbeddingLr = 0.2;     // transformer.wte.weight, times s
constexpr double kUnembeddingLr = 0.004; // lm_head.weight, times s
constexpr double kMuonLr = 0.02;         // matrices of the blocks
constexpr double kAdamMatrixLr = 3e-3;   // those with AdamW, times s
constexpr double kMuonMomentum = 0.95;
constexpr double kMaxGradNorm = 1.0;
/// The schedule decays the learning rates to 0 over this last share of steps.
constexpr double kWarmdownFraction = 0.2;

enum class OptimizerKind { Muon, AdamW };

/// "muon" or "adamw".
const char *optimizerName(OptimizerKind kind);
/// The kind named `name`, or nullopt.
std::optional<OptimizerKind> parseOptimizerKind(std::string_view name);

/// The learning-rate multiplier for optimizer step `step` (0-based) of
/// `numSteps`: 1, then over the last 20% of steps linearly down towards 0,
/// (numSteps - step) / (0.2 numSteps).
double lrMultiplier(int64_t step, int64_t numSteps);

/// The scalars of AdamW step t (counting from 1, for bias correction) at
/// learning rate lr.
AdamWStep adamwStep(double lr, int64_t t);

/// The scalars of a Muon step at learning rate lr on a [rows, cols] matrix.
MuonStep muonStep(double lr, int64_t rows, int64_t cols);

/// Parameters [begin, end) of a program (by index): those whose optimizer
/// state a rank of a data-parallel run keeps (Distributed.h).
struct ParamRange {
  size_t begin = 0, end = SIZE_MAX; // SIZE_MAX: to the last parameter
  size_t endIn(const ProgramInfo &program) const {
    return std::min(end, program.numParams);
  }
};

/// sum += grads for every parameter (both in the parameter buffer's layout,
/// in device memory).
void addGradients(const ProgramInfo &program, char *sum, const char *grads);

/// grads *= factor for the parameters in `range`.
void scaleGradients(const ProgramInfo &program, char *grads, float factor,
                    ParamRange range = {});

/// Each parameter's sum of squared gradients in double [numParams]: those in
/// `range` computed from `grads`, the others 0.
std::vector<double> gradientSquares(const ProgramInfo &program,
                                    const char *grads, ParamRange range = {});

/// The global L2 norm of the gradients whose per-parameter sums of squares
/// are `squares` (added in parameter order); when it exceeds `maxNorm`,
/// scales the gradients in `range` by maxNorm / (norm + 1e-6). Returns the
/// norm before clipping.
double clipToNorm(const ProgramInfo &program, char *grads,
                  const std::vector<double> &squares, double maxNorm,
                  ParamRange range = {});

/// Scales every parameter's gradient in `grads` (the parameter buffer's
/// layout, in device memory) by maxNorm / (norm + 1e-6) when their global
/// L2 norm exceeds `maxNorm`, as torch.nn.utils.clip_grad_norm_ does;
/// returns the norm before clipping (NaN when a gradient is NaN).
double clipGradNorm(const ProgramInfo &program, char *grads, double maxNorm);

/// The optimizer state of every parameter of a program.
class Optimizer {
public:
  /// Assigns every parameter of `program` to its update rule; `modelDim` is
  /// C (n_embd). Errors name a parameter that fits no rule.
  /// The state is kept (and updated) for the parameters in `owned` only.
  static Expected<Optimizer> create(const ProgramInfo &program,
                                    OptimizerKind kind, int64_t modelDim,
                                    double lrScale, ParamRange owned = {});

  /// Updates the owned `params` with `grads` (both in the parameter buffer's
  /// layout, in device memory); `stepsBefore` optimizer steps have been
  /// taken.
  void step(char *params, const char *grads, double lrMultiplier,
            int64_t stepsBefore);

  /// A host copy of the state of every parameter [stateElements], which
  /// lives in device memory: the owned range copied, the rest from the
  /// gather set by setStateGather (zeros without one).
  std::vector<float> downloadState() const;
  /// Where the state of the parameters in `range` lies in downloadState()'s
  /// vector: [first, second).
  std::pair<int64_t, int64_t> stateRange(ParamRange range) const;
  /// Fills in, on a data-parallel run, the state other ranks own.
  void setStateGather(std::function<void(std::vector<float> &)> gather) {
    gatherState = std::move(gather);
  }
  /// The state as tensors named optim.m.<param>, optim.v.<param> (AdamW)
  /// and optim.momentum.<param> (Muon), viewing `values`, a copy made by
  /// downloadState().
  std::vector<TensorRef> stateTensors(const std::vector<float> &values) const;
  /// Reads the owned state stateTensors() names from a checkpoint.
  Status loadState(const SafetensorsFile &file);

  /// One line: which rule updates which parameters, at what rate.
  std::string describe() const;

private:
  /// One tensor of optimizer state, shaped like its parameter.
  struct State {
    std::string name; // optim.<what>.<param>
    int64_t offset;   // in elements, into `stateMemory`
  };
  /// One parameter and its state: AdamW's moments m and v, or Muon's
  /// momentum.
  struct Slot {
    const BufferInfo *param;
    bool muon;
    double lr; // before the schedule's multiplier
    std::vector<State> state;
  };

  /// The device memory of `tensor`, an owned parameter's.
  float *stateOf(const State &tensor) const {
    return stateMemory.as<float>() + (tensor.offset - ownedState.first);
  }

  OptimizerKind kind = OptimizerKind::Muon;
  std::vector<Slot> slots;
  ParamRange owned;
  int64_t stateElements = 0;              // of every parameter
  std::pair<int64_t, int64_t> ownedState; // [first, second) of those
  DeviceBuffer stateMemory; // [owned state]: every owned State in turn
  std::function<void(std::vector<float> &)> gatherState;
  DeviceBuffer scratch;     // Muon's workspace
};

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_OPTIMIZER_H
