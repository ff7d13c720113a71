//===- Optimizer.h - AdamW and Muon on the packed parameters ----*- C++ -*-===//
//
// The optimizer of nanochat's classic launch model, in float32:
//   - AdamW (betas 0.8, 0.95, eps 1e-10, no weight decay, bias correction)
//     for transformer.wte.weight (lr 0.2 s) and lm_head.weight (lr 0.004 s),
//     s = (C / 768)^-0.5;
//   - Muon (lr 0.02, Nesterov momentum 0.95, 5 Newton-Schulz iterations) for
//     every matrix under transformer.h.
// With OptimizerKind::AdamW those matrices use AdamW too, at lr 3e-3 s.
// Every learning rate is multiplied by --lr-scale and by the schedule's
// multiplier. Parameters and gradients are views of the packed buffers the
// generated code uses (byte offsets from ProgramInfo).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_OPTIMIZER_H
#define GPTC_BACKENDS_HOST_OPTIMIZER_H

#include "backends/common/Program.h"
#include "backends/common/Safetensors.h"
#include "backends/common/Status.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gptc::host {

constexpr double kAdamBeta1 = 0.8;
constexpr double kAdamBeta2 = 0.95;
constexpr double kAdamEps = 1e-10;
// Learning rates; s = (C / 768)^-0.5.
constexpr double kEmbeddingLr = 0.2;     // transformer.wte.weight, times s
constexpr double kUnembeddingLr = 0.004; // lm_head.weight, times s
constexpr double kMuonLr = 0.02;         // matrices under transformer.h.
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

/// Sum of squares of x[0..n) in double, the same for any thread count.
double sumOfSquares(const float *x, int64_t n);

/// sum += grads for every parameter (both in the parameter buffer's layout).
void addGradients(const ProgramInfo &program, char *sum, const char *grads);

/// grads *= factor for every parameter.
void scaleGradients(const ProgramInfo &program, char *grads, float factor);

/// Scales every parameter's gradient in `grads` (the parameter buffer's
/// layout) by maxNorm / (norm + 1e-6) when their global L2 norm exceeds
/// `maxNorm`, as torch.nn.utils.clip_grad_norm_ does; returns the norm
/// before clipping (NaN when a gradient is NaN).
double clipGradNorm(const ProgramInfo &program, char *grads, double maxNorm);

/// One AdamW step on n elements; t is the step number counting this one
/// (from 1), for bias correction.
void adamwUpdate(float *param, const float *grad, float *m, float *v, int64_t n,
                 double lr, int64_t t);

/// out = NS5(g / (||g||_F + 1e-7)), g and out [rows, cols]: the quintic
/// Newton-Schulz iteration X <- aX + (bA + cA^2)X, A = XX^T, run 5 times on
/// the wide orientation (transposed when rows > cols), which pushes every
/// singular value towards 1. `scratch` is reused between calls.
void newtonSchulz5(const float *g, float *out, int64_t rows, int64_t cols,
                   std::vector<float> &scratch);

/// One Muon step on a [rows, cols] matrix: momentum = lerp(momentum, g,
/// 1 - mu); g = lerp(g, momentum, mu) (Nesterov); param -= lr *
/// max(1, rows / cols)^0.5 * NS5(g).
void muonUpdate(float *param, const float *grad, float *momentum, int64_t rows,
                int64_t cols, double lr, std::vector<float> &scratch);

/// The optimizer state of every parameter of a program.
class Optimizer {
public:
  /// Assigns every parameter of `program` to its update rule; `modelDim` is
  /// C (n_embd). Errors name a parameter that fits no rule.
  static Expected<Optimizer> create(const ProgramInfo &program,
                                    OptimizerKind kind, int64_t modelDim,
                                    double lrScale);

  /// Updates `params` with `grads` (both in the parameter buffer's layout);
  /// `stepsBefore` optimizer steps have been taken.
  void step(char *params, const char *grads, double lrMultiplier,
            int64_t stepsBefore);

  /// The state as tensors named optim.m.<param>, optim.v.<param> (AdamW)
  /// and optim.momentum.<param> (Muon), viewing this optimizer's memory.
  std::vector<TensorRef> stateTensors() const;
  /// Reads the state stateTensors() names from a checkpoint.
  Status loadState(const SafetensorsFile &file);

  /// One line: which rule updates which parameters, at what rate.
  std::string describe() const;

private:
  /// One tensor of optimizer state, shaped like its parameter.
  struct State {
    std::string name;          // optim.<what>.<param>
    std::vector<float> values; // [numel]
  };
  /// One parameter and its state: AdamW's moments m and v, or Muon's
  /// momentum.
  struct Slot {
    const BufferInfo *param;
    bool muon;
    double lr; // before the schedule's multiplier
    std::vector<State> state;
  };

  OptimizerKind kind = OptimizerKind::Muon;
  std::vector<Slot> slots;
  std::vector<float> scratch; // Newton-Schulz workspace
};

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_OPTIMIZER_H
