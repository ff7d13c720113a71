//===- HostDevice.cpp - the host programs' Device.h on the GPU ------------===//
//
// backends/host/Device.h for programs compiled with --target=cuda (and the
// emulator): device memory, copies and graphs from gptc::cuda's Device.h,
// the training math from TrainOps.h. Plain C++ (no CUDA syntax), so that
// any C++ compiler builds it.
//
//===----------------------------------------------------------------------===//

#include "backends/host/Device.h"

#include "backends/cuda/Device.h"
#include "backends/cuda/TrainOps.h"

using namespace gptc;
using namespace gptc::host;

namespace {

/// Muon's Newton-Schulz iteration, as the CPU runs it.
constexpr cuda::NewtonSchulzParameters kNewtonSchulz = {
    kNewtonSchulzA, kNewtonSchulzB, kNewtonSchulzC, kNewtonSchulzSteps,
    kNewtonSchulzEps};

/// The partial sums [kSumOfSquaresBlocks] and the result [1] of
/// sumOfSquares: allocated on first use and kept for the process, like the
/// operations' scratch buffers.
double *sumOfSquaresBuffer() {
  static double *buffer = static_cast<double *>(
      cuda::deviceAlloc(sizeof(double) * size_t(cuda::kSumOfSquaresBlocks + 1),
                        "the sum of squares"));
  return buffer;
}

} // namespace

Status gptc::host::initDevice() { return cuda::initDevice(); }

std::string gptc::host::deviceDescription() {
  return cuda::deviceDescription();
}

DeviceBuffer::~DeviceBuffer() {
  if (pointer)
    cuda::deviceFree(pointer);
}

DeviceBuffer gptc::host::allocateDevice(size_t bytes, const char *what) {
  char *pointer = static_cast<char *>(cuda::deviceAlloc(bytes, what));
  cuda::fillZero(pointer, bytes);
  return DeviceBuffer(pointer, bytes);
}

void gptc::host::copyToDevice(void *device, const void *host, size_t bytes) {
  cuda::copyToDevice(device, host, bytes);
}

void gptc::host::copyToHost(void *host, const void *device, size_t bytes) {
  cuda::copyToHost(host, device, bytes);
}

void gptc::host::copyOnDevice(void *to, const void *from, size_t bytes) {
  cuda::copyOnDevice(to, from, bytes);
}

double gptc::host::sumOfSquares(const float *x, int64_t n) {
  double *partials = sumOfSquaresBuffer();
  double *result = partials + cuda::kSumOfSquaresBlocks;
  cuda::sumOfSquares(x, n, partials, result);
  double sum = 0;
  cuda::copyToHost(&sum, result, sizeof(sum));
  return sum;
}

void gptc::host::addInPlace(float *sum, const float *x, int64_t n) {
  cuda::addScaled(sum, x, n, 1.0f);
}

void gptc::host::scaleInPlace(float *x, int64_t n, float factor) {
  cuda::storeScaled(x, x, n, factor);
}

void gptc::host::adamwUpdate(float *param, const float *grad, float *m,
                             float *v, int64_t n, const AdamWStep &step) {
  cuda::adamwUpdate(param, grad, m, v, n, step.beta1, step.beta2, step.eps,
                    step.stepSize, step.bias2Sqrt);
}

void gptc::host::newtonSchulz5(const float *g, float *out, int64_t rows,
                               int64_t cols, DeviceBuffer &scratch) {
  cuda::newtonSchulz(g, out, rows, cols, kNewtonSchulz,
                     reserveDevice(scratch,
                                   cuda::muonWorkspaceBytes(rows, cols),
                                   "the Newton-Schulz workspace"));
}

void gptc::host::muonUpdate(float *param, const float *grad, float *momentum,
                            int64_t rows, int64_t cols, const MuonStep &step,
                            DeviceBuffer &scratch) {
  cuda::muonUpdate(param, grad, momentum, rows, cols, step.momentum, step.lr,
                   kNewtonSchulz,
                   reserveDevice(scratch, cuda::muonWorkspaceBytes(rows, cols),
                                 "the Muon workspace"));
}

/// The captured call.
struct StepGraph::Recording {
  cuda::Graph graph;
};

StepGraph::StepGraph() = default;
StepGraph::StepGraph(StepGraph &&other) noexcept = default;
StepGraph &StepGraph::operator=(StepGraph &&other) noexcept = default;
StepGraph::~StepGraph() = default;

void StepGraph::run(const std::function<void()> &call) {
  if (runs++ == 0) {
    // Uncaptured: the call may grow scratch buffers and choose GEMM
    // algorithms, which a capture does not allow.
    call();
    return;
  }
  if (!recording) {
    cuda::Graph::beginCapture();
    call();
    recording = std::make_unique<Recording>();
    recording->graph = cuda::Graph::endCapture();
  }
  recording->graph.replay();
}
