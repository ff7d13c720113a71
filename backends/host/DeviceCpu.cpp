//===- DeviceCpu.cpp - Device.h on the CPU --------------------------------===//
//
// Device memory is host memory, aligned for vector loads; the training math
// runs with OpenMP (elementwise loops above kChunk elements, reductions in
// fixed chunks so that they do not depend on the thread count) and oneDNN's
// sgemm.
//
//===----------------------------------------------------------------------===//

#include "backends/host/Device.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/core.h>

#include <dnnl.h>

using namespace gptc;
using namespace gptc::host;

namespace {

/// Elementwise loops run in parallel above this many elements; reductions
/// sum chunks of this size in a fixed order.
constexpr int64_t kChunk = 1 << 16;

constexpr size_t kAlignment = 64;

/// c[m, n] = alpha op(a) op(b) + beta c, row-major; op(x) is x or x^T as
/// trans is 'N' or 'T'. oneDNN fails only on malformed calls: abort.
void sgemm(char transA, char transB, int64_t m, int64_t n, int64_t k,
           float alpha, const float *a, int64_t lda, const float *b,
           int64_t ldb, float beta, float *c, int64_t ldc) {
  dnnl_status_t status =
      dnnl_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success) {
    fmt::print(stderr,
               "gptc optimizer: dnnl_sgemm(m={}, n={}, k={}) failed with "
               "status {}\n",
               m, n, k, static_cast<int>(status));
    std::abort();
  }
}

/// dst [cols, rows] = src [rows, cols] transposed.
void transpose(const float *src, float *dst, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      dst[c * rows + r] = src[r * cols + c];
}

/// Floats of workspace newtonSchulz5OnWorkspace needs for [rows, cols].
int64_t newtonSchulzFloats(int64_t rows, int64_t cols) {
  const int64_t r = std::min(rows, cols), c = std::max(rows, cols);
  return 2 * r * c + 2 * r * r;
}

/// newtonSchulz5 with workspace [newtonSchulzFloats(rows, cols)].
void newtonSchulz5OnWorkspace(const float *g, float *out, int64_t rows,
                              int64_t cols, float *workspace) {
  // Iterate on X [r, c] with r <= c, so that A = X X^T is the small side.
  const bool tall = rows > cols;
  const int64_t r = std::min(rows, cols), c = std::max(rows, cols);
  float *x = workspace; // [r, c]
  float *y = x + r * c; // [r, c]
  float *a = y + r * c; // [r, r]
  float *b = a + r * r; // [r, r]

  if (tall)
    transpose(g, x, rows, cols);
  else
    std::memcpy(x, g, sizeof(float) * r * c);
  float inverseNorm =
      float(1.0 / (std::sqrt(sumOfSquares(x, r * c)) + kNewtonSchulzEps));
  for (int64_t i = 0; i < r * c; ++i)
    x[i] *= inverseNorm;

  for (int step = 0; step < kNewtonSchulzSteps; ++step) {
    // A = X X^T
    sgemm('N', 'T', r, r, c, 1.0f, x, c, x, c, 0.0f, a, r);
    // B = b A + c A A
    for (int64_t i = 0; i < r * r; ++i)
      b[i] = kNewtonSchulzB * a[i];
    sgemm('N', 'N', r, r, r, kNewtonSchulzC, a, r, a, r, 1.0f, b, r);
    // X = a X + B X
    for (int64_t i = 0; i < r * c; ++i)
      y[i] = kNewtonSchulzA * x[i];
    sgemm('N', 'N', r, c, r, 1.0f, b, r, x, c, 1.0f, y, c);
    std::memcpy(x, y, sizeof(float) * r * c);
  }

  if (tall)
    transpose(x, out, r, c);
  else
    std::memcpy(out, x, sizeof(float) * r * c);
}

} // namespace

Status gptc::host::initDevice() { return Status::success(); }

std::string gptc::host::deviceDescription() { return "CPU"; }

DeviceBuffer::~DeviceBuffer() { std::free(pointer); }

DeviceBuffer gptc::host::allocateDevice(size_t bytes, const char *what) {
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void *pointer =
      std::aligned_alloc(kAlignment, rounded ? rounded : kAlignment);
  if (!pointer) {
    fmt::print(stderr, "error: cannot allocate {} bytes for {}\n", bytes, what);
    std::exit(1);
  }
  std::memset(pointer, 0, rounded);
  return DeviceBuffer(static_cast<char *>(pointer), bytes);
}

void gptc::host::copyToDevice(void *device, const void *host, size_t bytes) {
  std::memcpy(device, host, bytes);
}

void gptc::host::copyToHost(void *host, const void *device, size_t bytes) {
  std::memcpy(host, device, bytes);
}

void gptc::host::copyOnDevice(void *to, const void *from, size_t bytes) {
  std::memcpy(to, from, bytes);
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

void gptc::host::addInPlace(float *sum, const float *x, int64_t n) {
#pragma omp parallel for if (n > kChunk)
  for (int64_t i = 0; i < n; ++i)
    sum[i] += x[i];
}

void gptc::host::scaleInPlace(float *x, int64_t n, float factor) {
#pragma omp parallel for if (n > kChunk)
  for (int64_t i = 0; i < n; ++i)
    x[i] *= factor;
}

void gptc::host::adamwUpdate(float *param, const float *grad, float *m,
                             float *v, int64_t n, const AdamWStep &step) {
  const float beta1 = step.beta1, beta2 = step.beta2, eps = step.eps;
  const float stepSize = step.stepSize, bias2Sqrt = step.bias2Sqrt;
#pragma omp parallel for if (n > kChunk)
  for (int64_t i = 0; i < n; ++i) {
    float g = grad[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    param[i] -= stepSize * m[i] / (std::sqrt(v[i]) / bias2Sqrt + eps);
  }
}

void gptc::host::newtonSchulz5(const float *g, float *out, int64_t rows,
                               int64_t cols, DeviceBuffer &scratch) {
  size_t bytes = sizeof(float) * size_t(newtonSchulzFloats(rows, cols));
  newtonSchulz5OnWorkspace(g, out, rows, cols,
                           reinterpret_cast<float *>(reserveDevice(
                               scratch, bytes, "the Newton-Schulz workspace")));
}

void gptc::host::muonUpdate(float *param, const float *grad, float *momentum,
                            int64_t rows, int64_t cols, const MuonStep &step,
                            DeviceBuffer &scratch) {
  const float mu = step.momentum;
  const int64_t n = rows * cols;
  size_t bytes = sizeof(float) * size_t(n + newtonSchulzFloats(rows, cols));
  // [rows, cols]: the Nesterov gradient, then NS5 of it; then the
  // Newton-Schulz workspace.
  float *update = reinterpret_cast<float *>(
      reserveDevice(scratch, bytes, "the Muon workspace"));
#pragma omp parallel for if (n > kChunk)
  for (int64_t i = 0; i < n; ++i) {
    momentum[i] += (1.0f - mu) * (grad[i] - momentum[i]);
    update[i] = grad[i] + mu * (momentum[i] - grad[i]);
  }
  newtonSchulz5OnWorkspace(update, update, rows, cols, update + n);
  const float lr = step.lr;
#pragma omp parallel for if (n > kChunk)
  for (int64_t i = 0; i < n; ++i)
    param[i] -= lr * update[i];
}

/// Never created on the CPU, which runs every call.
struct StepGraph::Recording {};

StepGraph::StepGraph() = default;
StepGraph::StepGraph(StepGraph &&other) noexcept = default;
StepGraph &StepGraph::operator=(StepGraph &&other) noexcept = default;
StepGraph::~StepGraph() = default;

void StepGraph::run(const std::function<void()> &call) { call(); }
