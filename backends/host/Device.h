//===- Device.h - the memory and math the host programs run on --*- C++ -*-===//
//
// The generated functions (GeneratedPrograms.h) take every buffer in the
// memory of the device they run on; the host programs keep that memory
// behind this interface, so that one host program serves every target. The
// implementation is chosen at link time:
//   DeviceCpu.cpp              the CPU: device memory is host memory
//                              (libgptc_host_device_cpu.a);
//   backends/cuda/HostDevice.cpp  an NVIDIA GPU through gptc::cuda
//                              (libgptc_host_device_cuda.a).
// Work runs in the order it is issued; a copy to the host waits for all of
// it. Failing to allocate device memory prints one line and exits 1.
//
// Besides memory, the interface holds what the training loop does to the
// packed parameters and gradients between generated calls (sums, scaling,
// AdamW and Muon; see Optimizer.h) and running the decode step as a
// replayable graph (StepGraph).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_DEVICE_H
#define GPTC_BACKENDS_HOST_DEVICE_H

#include "backends/common/Status.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace gptc::host {

/// Makes the device ready; every main() calls it first. Fails with the
/// reason when there is no usable device.
Status initDevice();

/// The device, for people: "CPU", "NVIDIA H100 80GB HBM3 (sm_90, ...)".
std::string deviceDescription();

/// Device memory, freed on destruction.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer &&other) noexcept
      : pointer(std::exchange(other.pointer, nullptr)),
        bytes(std::exchange(other.bytes, 0)) {}
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept {
    std::swap(pointer, other.pointer);
    std::swap(bytes, other.bytes);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer();

  /// The device address, 64-byte aligned (null when empty).
  char *get() const { return pointer; }
  /// The device address as T *.
  template <typename T> T *as() const { return reinterpret_cast<T *>(pointer); }
  /// Bytes allocated, as asked for.
  size_t size() const { return bytes; }

private:
  friend DeviceBuffer allocateDevice(size_t bytes, const char *what);
  DeviceBuffer(char *pointer, size_t bytes) : pointer(pointer), bytes(bytes) {}

  char *pointer = nullptr;
  size_t bytes = 0;
};

/// `bytes` of zeroed device memory; `what` names them in an out-of-memory
/// message ("the KV cache").
DeviceBuffer allocateDevice(size_t bytes, const char *what);

/// Copies between host and device memory, and within device memory.
void copyToDevice(void *device, const void *host, size_t bytes);
void copyToHost(void *host, const void *device, size_t bytes);
void copyOnDevice(void *to, const void *from, size_t bytes);

/// A device buffer holding a copy of host[0, bytes).
inline DeviceBuffer uploadToDevice(const void *host, size_t bytes,
                                   const char *what) {
  DeviceBuffer buffer = allocateDevice(bytes, what);
  copyToDevice(buffer.get(), host, bytes);
  return buffer;
}

/// At least `bytes` of workspace in `buffer`, which is reallocated (losing
/// its contents) when smaller.
inline char *reserveDevice(DeviceBuffer &buffer, size_t bytes,
                           const char *what) {
  if (buffer.size() < bytes)
    buffer = allocateDevice(bytes, what);
  return buffer.get();
}

//===----------------------------------------------------------------------===//
// Training math on device memory
//===----------------------------------------------------------------------===//

/// The sum of squares of x[n] in double, the same on every run of a target
/// (whatever its thread count).
double sumOfSquares(const float *x, int64_t n);

/// sum[n] += x[n].
void addInPlace(float *sum, const float *x, int64_t n);

/// x[n] *= factor.
void scaleInPlace(float *x, int64_t n, float factor);

/// The scalars of one AdamW step (torch.optim.AdamW without weight decay).
struct AdamWStep {
  float beta1, beta2, eps;
  float stepSize;  // lr / (1 - beta1^t), t counting this step from 1
  float bias2Sqrt; // sqrt(1 - beta2^t)
};

/// One AdamW step on param[n] with grad[n] and the moments m[n], v[n]:
/// m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g², param -=
/// stepSize m / (sqrt(v) / bias2Sqrt + eps).
void adamwUpdate(float *param, const float *grad, float *m, float *v, int64_t n,
                 const AdamWStep &step);

/// Muon's orthogonalisation: the quintic Newton-Schulz iteration X <- aX +
/// (bA + cA²)X, A = XXᵀ, run kNewtonSchulzSteps times on the wide
/// orientation of X = G / (||G||_F + kNewtonSchulzEps) (Keller Jordan's
/// coefficients, as nanochat's Muon).
constexpr float kNewtonSchulzA = 3.4445f;
constexpr float kNewtonSchulzB = -4.7750f;
constexpr float kNewtonSchulzC = 2.0315f;
constexpr int kNewtonSchulzSteps = 5;
constexpr double kNewtonSchulzEps = 1e-7;

/// out = NS5(g), g and out [rows, cols] (they may be the same buffer), which
/// pushes every singular value towards 1. `scratch` is workspace the
/// implementation grows as it needs.
void newtonSchulz5(const float *g, float *out, int64_t rows, int64_t cols,
                   DeviceBuffer &scratch);

/// The scalars of one Muon step on a matrix.
struct MuonStep {
  float momentum; // mu
  float lr;       // the learning rate, times max(1, rows / cols)^0.5
};

/// One Muon step on param [rows, cols]: momentum = lerp(momentum, g, 1 -
/// mu); u = lerp(g, momentum, mu) (Nesterov); param -= lr NS5(u).
void muonUpdate(float *param, const float *grad, float *momentum, int64_t rows,
                int64_t cols, const MuonStep &step, DeviceBuffer &scratch);

//===----------------------------------------------------------------------===//
// The decode step as a graph
//===----------------------------------------------------------------------===//

/// Runs one call that is made again and again on buffers at fixed device
/// addresses, such as the decode step. On a GPU the first run executes the
/// call (so that one-time set-up such as choosing GEMM algorithms happens
/// then), the second captures it into a CUDA graph and replays that, and
/// every later run only replays the graph, which reads the buffers' current
/// contents: the call must launch the same work every time and must not copy
/// to or from the host. On the CPU every run executes the call.
class StepGraph {
public:
  StepGraph();
  StepGraph(StepGraph &&other) noexcept;
  StepGraph &operator=(StepGraph &&other) noexcept;
  ~StepGraph();

  void run(const std::function<void()> &call);

private:
  struct Recording;
  int64_t runs = 0;
  std::unique_ptr<Recording> recording; // null until captured
};

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_DEVICE_H
