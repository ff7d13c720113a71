//===- Optimizer.cpp - AdamW and Muon on the packed parameters ------------===//

#include "backends/host/Optimizer.h"

#include "backends/host/HostCommon.h"

#include <algorithm>
#include <cmath>

using namespace gptc;
using namespace gptc::host;

namespace {

/// The rows and columns of a matrix parameter.
int64_t rowsOf(const BufferInfo &param) { return param.shape[0]; }
int64_t colsOf(const BufferInfo &param) { return param.shape[1]; }

} // namespace

const char *gptc::host::optimizerName(OptimizerKind kind) {
  return kind == OptimizerKind::Muon ? "muon" : "adamw";
}

std::optional<OptimizerKind>
gptc::host::parseOptimizerKind(std::string_view name) {
  if (name == "muon")
    return OptimizerKind::Muon;
  if (name == "adamw")
    return OptimizerKind::AdamW;
  return std::nullopt;
}

double gptc::host::lrMultiplier(int64_t step, int64_t numSteps) {
  double warmdown = kWarmdownFraction * double(numSteps);
  if (double(step) < double(numSteps) - warmdown)
    return 1.0;
  return double(numSteps - step) / warmdown;
}

AdamWStep gptc::host::adamwStep(double lr, int64_t t) {
  // torch.optim.AdamW: p -= lr / (1 - beta1^t) * m / (sqrt(v) /
  // sqrt(1 - beta2^t) + eps).
  AdamWStep step;
  step.beta1 = float(kAdamBeta1);
  step.beta2 = float(kAdamBeta2);
  step.eps = float(kAdamEps);
  step.stepSize = float(lr / (1.0 - std::pow(kAdamBeta1, double(t))));
  step.bias2Sqrt = float(std::sqrt(1.0 - std::pow(kAdamBeta2, double(t))));
  return step;
}

MuonStep gptc::host::muonStep(double lr, int64_t rows, int64_t cols) {
  MuonStep step;
  step.momentum = float(kMuonMomentum);
  step.lr = float(lr * std::sqrt(std::max(1.0, double(rows) / double(cols))));
  return step;
}

void gptc::host::addGradients(const ProgramInfo &program, char *sum,
                              const char *grads) {
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    addInPlace(view<float>(sum, param.offset),
               reinterpret_cast<const float *>(grads + param.offset),
               param.numel());
  }
}

void gptc::host::scaleGradients(const ProgramInfo &program, char *grads,
                                float factor, ParamRange range) {
  for (size_t i = range.begin; i < range.endIn(program); ++i) {
    const BufferInfo &param = program.params[i];
    scaleInPlace(view<float>(grads, param.offset), param.numel(), factor);
  }
}

std::vector<double> gptc::host::gradientSquares(const ProgramInfo &program,
                                                const char *grads,
                                                ParamRange range) {
  std::vector<double> squares(program.numParams, 0.0); // [numParams]
  for (size_t i = range.begin; i < range.endIn(program); ++i) {
    const BufferInfo &param = program.params[i];
    squares[i] = sumOfSquares(
        reinterpret_cast<const float *>(grads + param.offset), param.numel());
  }
  return squares;
}

double gptc::host::clipToNorm(const ProgramInfo &program, char *grads,
                              const std::vector<double> &squares,
                              double maxNorm, ParamRange range) {
  double sum = 0;
  for (double square : squares)
    sum += square;
  double norm = std::sqrt(sum);
  if (norm > maxNorm)
    scaleGradients(program, grads, float(maxNorm / (norm + 1e-6)), range);
  return norm;
}

double gptc::host::clipGradNorm(const ProgramInfo &program, char *grads,
                                double maxNorm) {
  return clipToNorm(program, grads, gradientSquares(program, grads), maxNorm);
}

Expected<Optimizer> Optimizer::create(const ProgramInfo &program,
                                      OptimizerKind kind, int64_t modelDim,
                                      double lrScale, ParamRange owned) {
  const double dimScale = 1.0 / std::sqrt(double(modelDim) / 768.0);
  Optimizer optimizer;
  optimizer.kind = kind;
  optimizer.owned = owned;
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    std::string name = param.name;
    if (param.dtype != ElementType::F32)
      return Status::error("parameter '{}' has element type {}; training "
                           "needs float parameters",
                           name, cppTypeName(param.dtype));
    Slot slot{&param, false, 0.0, {}};
    if (name == "transformer.wte.weight") {
      slot.lr = kEmbeddingLr * dimScale;
    } else if (name == "lm_head.weight") {
      slot.lr = kUnembeddingLr * dimScale;
    } else if (param.layer >= 0 && param.rank == 2) {
      slot.muon = kind == OptimizerKind::Muon;
      slot.lr = slot.muon ? kMuonLr : kAdamMatrixLr * dimScale;
    } else {
      return Status::error("parameter '{}' {} fits no optimizer rule: "
                           "transformer.wte.weight, lm_head.weight or a "
                           "matrix of a transformer block",
                           name, formatShape(shapeOf(param)));
    }
    slot.lr *= lrScale;
    auto addState = [&](const char *what) {
      slot.state.push_back(
          {fmt::format("optim.{}.{}", what, name), optimizer.stateElements});
      optimizer.stateElements += param.numel();
    };
    if (slot.muon) {
      addState("momentum");
    } else {
      addState("m");
      addState("v");
    }
    optimizer.slots.push_back(std::move(slot));
  }
  optimizer.ownedState = optimizer.stateRange(owned);
  optimizer.stateMemory =
      allocateDevice(sizeof(float) * size_t(optimizer.ownedState.second -
                                            optimizer.ownedState.first),
                     "the optimizer state");
  return optimizer;
}

std::pair<int64_t, int64_t> Optimizer::stateRange(ParamRange range) const {
  // The state tensors lie in parameter order.
  auto startOf = [&](size_t slot) {
    return slot < slots.size() ? slots[slot].state.front().offset
                               : stateElements;
  };
  size_t end = std::min(range.end, slots.size());
  size_t begin = std::min(range.begin, end);
  return {startOf(begin), startOf(end)};
}

void Optimizer::step(char *params, const char *grads, double lrMultiplier,
                     int64_t stepsBefore) {
  for (size_t i = owned.begin; i < std::min(owned.end, slots.size()); ++i) {
    Slot &slot = slots[i];
    const BufferInfo &param = *slot.param;
    float *p = view<float>(params, param.offset);
    const float *g = reinterpret_cast<const float *>(grads + param.offset);
    double lr = slot.lr * lrMultiplier;
    if (slot.muon)
      muonUpdate(p, g, stateOf(slot.state[0]), rowsOf(param), colsOf(param),
                 muonStep(lr, rowsOf(param), colsOf(param)), scratch);
    else
      adamwUpdate(p, g, stateOf(slot.state[0]), stateOf(slot.state[1]),
                  param.numel(), adamwStep(lr, stepsBefore + 1));
  }
}

std::vector<float> Optimizer::downloadState() const {
  std::vector<float> values(stateElements); // [stateElements]
  copyToHost(values.data() + ownedState.first, stateMemory.get(),
             sizeof(float) * size_t(ownedState.second - ownedState.first));
  if (gatherState)
    gatherState(values);
  return values;
}

std::vector<TensorRef>
Optimizer::stateTensors(const std::vector<float> &values) const {
  std::vector<TensorRef> tensors;
  for (const Slot &slot : slots)
    for (const State &tensor : slot.state)
      tensors.push_back({tensor.name, DType::F32, shapeOf(*slot.param),
                         values.data() + tensor.offset});
  return tensors;
}

Status Optimizer::loadState(const SafetensorsFile &file) {
  // [owned state]
  std::vector<float> values(size_t(ownedState.second - ownedState.first));
  for (size_t i = owned.begin; i < std::min(owned.end, slots.size()); ++i)
    for (const State &tensor : slots[i].state)
      if (Status status =
              file.readF32(tensor.name, shapeOf(*slots[i].param),
                           values.data() + (tensor.offset - ownedState.first));
          !status.ok())
        return status;
  copyToDevice(stateMemory.get(), values.data(), sizeof(float) * values.size());
  return Status::success();
}

std::string Optimizer::describe() const {
  std::string text;
  int64_t numMatrices = 0;
  double matrixLr = 0;
  for (const Slot &slot : slots) {
    if (slot.param->layer >= 0) {
      ++numMatrices;
      matrixLr = slot.lr;
      continue;
    }
    text += fmt::format("{} adamw lr {:.4g}; ", slot.param->name, slot.lr);
  }
  return text + fmt::format("{} matrices under transformer.h. {} lr {:.4g}",
                            numMatrices, optimizerName(kind), matrixLr);
}
