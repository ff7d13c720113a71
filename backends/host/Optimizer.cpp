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
                                float factor) {
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    scaleInPlace(view<float>(grads, param.offset), param.numel(), factor);
  }
}

double gptc::host::clipGradNorm(const ProgramInfo &program, char *grads,
                                double maxNorm) {
  double squares = 0;
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    squares += sumOfSquares(view<float>(grads, param.offset), param.numel());
  }
  double norm = std::sqrt(squares);
  if (norm > maxNorm)
    scaleGradients(program, grads, float(maxNorm / (norm + 1e-6)));
  return norm;
}

Expected<Optimizer> Optimizer::create(const ProgramInfo &program,
                                      OptimizerKind kind, int64_t modelDim,
                                      double lrScale) {
  const double dimScale = 1.0 / std::sqrt(double(modelDim) / 768.0);
  Optimizer optimizer;
  optimizer.kind = kind;
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    std::string name = param.name;
    if (std::string(param.dtype) != "float")
      return Status::error("parameter '{}' has element type {}; training "
                           "needs float parameters",
                           name, param.dtype);
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
  optimizer.stateMemory = allocateDevice(
      sizeof(float) * size_t(optimizer.stateElements), "the optimizer state");
  return optimizer;
}

void Optimizer::step(char *params, const char *grads, double lrMultiplier,
                     int64_t stepsBefore) {
  for (Slot &slot : slots) {
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
  copyToHost(values.data(), stateMemory.get(), sizeof(float) * values.size());
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
  std::vector<float> values(stateElements); // [stateElements]
  for (const Slot &slot : slots)
    for (const State &tensor : slot.state)
      if (Status status = file.readF32(tensor.name, shapeOf(*slot.param),
                                       values.data() + tensor.offset);
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
