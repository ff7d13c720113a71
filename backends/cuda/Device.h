//===- Device.h - device memory, the stream and CUDA graphs -----*- C++ -*-===//
//
// The host side of the CUDA runtime, with no CUDA types in its interface so
// that host code compiled by any C++ compiler can use it. Two
// implementations: DeviceCuda.cu (the CUDA runtime API) and
// DeviceEmulator.cpp (host memory; kernels run on the SIMT emulator), which
// is what the test suite links on machines without a GPU.
//
// Errors from the device (out of memory, a failed launch) are fatal: they
// print one line naming the operation and exit with status 1.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_DEVICE_H
#define GPTC_BACKENDS_CUDA_DEVICE_H

#include "backends/common/Status.h"

#include <cstddef>
#include <string>

namespace gptc::cuda {

/// Selects device 0 and creates the stream; fails with the reason when there
/// is no usable device ("no CUDA device found; this binary needs an NVIDIA
/// GPU of compute capability 8.0 or newer").
Status initDevice();

/// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)" or "SIMT emulator".
std::string deviceDescription();

/// Device memory, 256-byte aligned; the contents are undefined.
void *deviceAlloc(size_t bytes, const char *what);
void deviceFree(void *pointer);

/// Copies on the stream; the ones to or from the host wait for completion.
void copyToDevice(void *device, const void *host, size_t bytes);
void copyToHost(void *host, const void *device, size_t bytes);
void copyOnDevice(void *to, const void *from, size_t bytes);
void fillZero(void *device, size_t bytes);

/// Waits for everything queued on the stream.
void synchronize();

/// A recorded sequence of launches replayed with one call: the whole decode
/// step is captured once and then replayed token after token.
class Graph {
public:
  Graph() = default;
  Graph(Graph &&other) noexcept;
  Graph &operator=(Graph &&other) noexcept;
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;
  ~Graph();

  /// Records every launch on the stream until endCapture instead of running
  /// it. Host<->device copies are not allowed while capturing.
  static void beginCapture();
  static Graph endCapture();

  /// Runs the recorded launches on the stream.
  void replay() const;
  bool empty() const { return handle == nullptr; }

private:
  void *handle = nullptr;
};

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_DEVICE_H
