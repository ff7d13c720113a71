//===- Optimizer.cpp - AdamW and Muon on the packed parameters ------------===//

#include "backends/host/Optimizer.h"

#include "backends/host/HostCommon.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <dnnl.h>

using namespace gptc;
using namespace gptc::host;

namespace {

/// Elementwise loops run in parallel above this many elements; reductions
/// sum chunks of this size in a fixed order.
constexpr int64_t kChunk = 1 << 16;

/// Newton-Schulz quintic coefficients (Keller Jordan's, as nanochat's Muon).
constexpr float kNsA = 3.4445f, kNsB = -4.7750f, kNsC = 2.0315f;
constexpr int kNsSteps = 5;

/// c[m, n] = alpha op(a) op(b) + beta c, row-major; op(x) is x or x^T as
/// trans is 'N' or 'T'. oneDNN fails only on malformed calls: abort.
void sgemm(char transA, char transB, int64_t m, int64_t n, int64_t k,
           float alpha, const float *a, int64_t lda, const float *b,
           int64_t ldb, float beta, float *c, int64_t ldc) {
  dnnl_status_t status =
      dnnl_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success) {
    std::fprintf(stderr,
                 "gptc optimizer: dnnl_sgemm(m=%lld, n=%lld, k=%lld) failed "
                 "with status %d\n",
                 static_cast<long long>(m), static_cast<long long>(n),
                 static_cast<long long>(k), static_cast<int>(status));
    std::abort();
  }
}

/// dst [cols, rows] = src [rows, cols] transposed.
void transpose(const float *src, float *dst, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      dst[c * rows + r] = src[r * cols + c];
}

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

double gptc::host::sumOfSquares(const float *x, int64_t n) {
  int64_t numChunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(numChunks); // [chunks]
#pragma omp parallel for if (numChunks > 1)
  for (int64_t chunk = 0; chunk < numChunks; ++chunk) {
    double sum = 0;
    for (int64_t i = chunk * kChunk; i < std::min(n, (chunk + 1) * kChunk); ++i)
      sum += double(x[i]) * double(x[i]);
    partial[chunk] = sum;
  }
  double total = 0;
  for (double sum : partial)
    total += sum;
  return total;
}

void gptc::host::addGradients(const ProgramInfo &program, char *sum,
                              const char *grads) {
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    float *dst = view<float>(sum, param.offset);
    const float *src = reinterpret_cast<const float *>(grads + param.offset);
    int64_t n = param.numel();
#pragma omp parallel for if (n > kChunk)
    for (int64_t j = 0; j < n; ++j)
      dst[j] += src[j];
  }
}

void gptc::host::scaleGradients(const ProgramInfo &program, char *grads,
                                float factor) {
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    float *grad = view<float>(grads, param.offset);
    int64_t n = param.numel();
#pragma omp parallel for if (n > kChunk)
    for (int64_t j = 0; j < n; ++j)
      grad[j] *= factor;
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

void gptc::host::adamwUpdate(float *param, const float *grad, float *m,
                             float *v, int64_t n, double lr, int64_t t) {
  const float beta1 = float(kAdamBeta1), beta2 = float(kAdamBeta2);
  const float eps = float(kAdamEps);
  // torch.optim.AdamW: p -= lr / (1 - beta1^t) * m / (sqrt(v) /
  // sqrt(1 - beta2^t) + eps).
  const float stepSize = float(lr / (1.0 - std::pow(kAdamBeta1, double(t))));
  const float bias2Sqrt =
      float(std::sqrt(1.0 - std::pow(kAdamBeta2, double(t))));
#pragma omp parallel for if (n > kChunk)
  for (int64_t i = 0; i < n; ++i) {
    float g = grad[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    param[i] -= stepSize * m[i] / (std::sqrt(v[i]) / bias2Sqrt + eps);
  }
}

void gptc::host::newtonSchulz5(const float *g, float *out, int64_t rows,
                               int64_t cols, std::vector<float> &scratch) {
  // Iterate on X [r, c] with r <= c, so that A = X X^T is the small side.
  const bool tall = rows > cols;
  const int64_t r = std::min(rows, cols), c = std::max(rows, cols);
  scratch.resize(2 * r * c + 2 * r * r);
  float *x = scratch.data(); // [r, c]
  float *y = x + r * c;      // [r, c]
  float *a = y + r * c;      // [r, r]
  float *b = a + r * r;      // [r, r]

  if (tall)
    transpose(g, x, rows, cols);
  else
    std::memcpy(x, g, sizeof(float) * r * c);
  float inverseNorm = float(1.0 / (std::sqrt(sumOfSquares(x, r * c)) + 1e-7));
  for (int64_t i = 0; i < r * c; ++i)
    x[i] *= inverseNorm;

  for (int step = 0; step < kNsSteps; ++step) {
    // A = X X^T
    sgemm('N', 'T', r, r, c, 1.0f, x, c, x, c, 0.0f, a, r);
    // B = b A + c A A
    for (int64_t i = 0; i < r * r; ++i)
      b[i] = kNsB * a[i];
    sgemm('N', 'N', r, r, r, kNsC, a, r, a, r, 1.0f, b, r);
    // X = a X + B X
    for (int64_t i = 0; i < r * c; ++i)
      y[i] = kNsA * x[i];
    sgemm('N', 'N', r, c, r, 1.0f, b, r, x, c, 1.0f, y, c);
    std::memcpy(x, y, sizeof(float) * r * c);
  }

  if (tall)
    transpose(x, out, r, c);
  else
    std::memcpy(out, x, sizeof(float) * r * c);
}

void gptc::host::muonUpdate(float *param, const float *grad, float *momentum,
                            int64_t rows, int64_t cols, double lr,
                            std::vector<float> &scratch) {
  const float mu = float(kMuonMomentum);
  const int64_t n = rows * cols;
  std::vector<float> update(
      n); // [rows, cols]: the Nesterov gradient, then NS5 of it
#pragma omp parallel for if (n > kChunk)
  for (int64_t i = 0; i < n; ++i) {
    momentum[i] += (1.0f - mu) * (grad[i] - momentum[i]);
    update[i] = grad[i] + mu * (momentum[i] - grad[i]);
  }
  newtonSchulz5(update.data(), update.data(), rows, cols, scratch);
  const float scaledLr =
      float(lr * std::sqrt(std::max(1.0, double(rows) / double(cols))));
#pragma omp parallel for if (n > kChunk)
  for (int64_t i = 0; i < n; ++i)
    param[i] -= scaledLr * update[i];
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
    } else if (name.rfind("transformer.h.", 0) == 0 && param.rank == 2) {
      slot.muon = kind == OptimizerKind::Muon;
      slot.lr = slot.muon ? kMuonLr : kAdamMatrixLr * dimScale;
    } else {
      return Status::error("parameter '{}' {} fits no optimizer rule: "
                           "transformer.wte.weight, lm_head.weight or a "
                           "matrix under transformer.h.",
                           name, formatShape(shapeOf(param)));
    }
    slot.lr *= lrScale;
    std::vector<float> zeros(param.numel(), 0.0f);
    if (slot.muon)
      slot.state = {{"optim.momentum." + name, zeros}};
    else
      slot.state = {{"optim.m." + name, zeros}, {"optim.v." + name, zeros}};
    optimizer.slots.push_back(std::move(slot));
  }
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
      muonUpdate(p, g, slot.state[0].values.data(), rowsOf(param),
                 colsOf(param), lr, scratch);
    else
      adamwUpdate(p, g, slot.state[0].values.data(),
                  slot.state[1].values.data(), param.numel(), lr,
                  stepsBefore + 1);
  }
}

std::vector<TensorRef> Optimizer::stateTensors() const {
  std::vector<TensorRef> tensors;
  for (const Slot &slot : slots)
    for (const State &state : slot.state)
      tensors.push_back(
          {state.name, DType::F32, shapeOf(*slot.param), state.values.data()});
  return tensors;
}

Status Optimizer::loadState(const SafetensorsFile &file) {
  for (Slot &slot : slots)
    for (State &state : slot.state)
      if (Status status = file.readF32(state.name, shapeOf(*slot.param),
                                       state.values.data());
          !status.ok())
        return status;
  return Status::success();
}

std::string Optimizer::describe() const {
  std::string text;
  int64_t numMatrices = 0;
  double matrixLr = 0;
  for (const Slot &slot : slots) {
    if (std::string_view(slot.param->name).rfind("transformer.h.", 0) == 0) {
      ++numMatrices;
      matrixLr = slot.lr;
      continue;
    }
    text += fmt::format("{} adamw lr {:.4g}; ", slot.param->name, slot.lr);
  }
  return text + fmt::format("{} matrices under transformer.h. {} lr {:.4g}",
                            numMatrices, optimizerName(kind), matrixLr);
}
