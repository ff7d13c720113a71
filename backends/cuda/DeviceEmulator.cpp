//===- DeviceEmulator.cpp - Device.h on the host, kernels on the emulator -===//
//
// "Device memory" is host memory filled with NaN bytes when allocated, so a
// kernel that reads what nobody wrote produces NaNs that the tests see, and
// ending at a guard page, so a kernel that reads or writes past the end
// aborts naming itself (gptc::simt::allocateDevice).
// Launches run on the SIMT emulator in order, which is what one CUDA stream
// guarantees. While a graph is captured, launches, device-to-device copies
// and fills are recorded, and a copy to or from the host is an error, as
// with cudaStreamBeginCapture; so are allocating and freeing device memory
// (a scratch buffer that grew during capture would leave the graph with a
// freed address).
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Device.h"
#include "backends/cuda/Emulator.h"
#include "backends/cuda/Launch.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <omp.h>

namespace gptc::cuda {
namespace {

using Recording = std::vector<std::function<void()>>;

/// The graph being captured, or null.
Recording *capturing = nullptr;

[[noreturn]] void failDuringCapture(const char *what) {
  std::fprintf(stderr,
               "error: %s while a CUDA graph is being captured (the captured "
               "work may only launch kernels, fill and copy device memory)\n",
               what);
  std::exit(1);
}

} // namespace

void emulatorEnqueue(std::function<void()> work) {
  if (capturing)
    capturing->push_back(std::move(work));
  else
    work();
}

void emulatorLaunch(const char *name, dim3 grid, dim3 block, size_t sharedBytes,
                    std::function<void()> body) {
  emulatorEnqueue([=] { simt::launch(name, grid, block, sharedBytes, body); });
}

Status initDevice() { return Status::success(); }

std::string deviceDescription() {
  return "SIMT emulator on " + std::to_string(omp_get_max_threads()) +
         " CPU threads";
}

void *deviceAlloc(size_t bytes, const char *what) {
  if (capturing)
    failDuringCapture("an allocation");
  void *pointer = simt::allocateDevice(bytes, what);
  if (!pointer) {
    std::fprintf(stderr,
                 "error: out of (emulated) device memory allocating "
                 "%zu bytes for %s\n",
                 bytes, what);
    std::exit(1);
  }
  return pointer;
}

void deviceFree(void *pointer) {
  if (capturing)
    failDuringCapture("freeing device memory");
  simt::freeDevice(pointer);
}

void copyToDevice(void *device, const void *host, size_t bytes) {
  if (capturing)
    failDuringCapture("a copy from the host");
  std::memcpy(device, host, bytes);
}

void copyToHost(void *host, const void *device, size_t bytes) {
  if (capturing)
    failDuringCapture("a copy to the host");
  std::memcpy(host, device, bytes);
}

void copyOnDevice(void *to, const void *from, size_t bytes) {
  emulatorEnqueue([=] { std::memmove(to, from, bytes); });
}

void fillZero(void *device, size_t bytes) {
  emulatorEnqueue([=] { std::memset(device, 0, bytes); });
}

void synchronize() {
  if (capturing)
    failDuringCapture("synchronize");
}

Graph::Graph(Graph &&other) noexcept : handle(other.handle) {
  other.handle = nullptr;
}

Graph &Graph::operator=(Graph &&other) noexcept {
  std::swap(handle, other.handle);
  return *this;
}

Graph::~Graph() { delete static_cast<Recording *>(handle); }

void Graph::beginCapture() {
  if (capturing) {
    std::fprintf(stderr, "error: a CUDA graph capture is already running\n");
    std::exit(1);
  }
  capturing = new Recording;
}

Graph Graph::endCapture() {
  Graph graph;
  graph.handle = capturing;
  capturing = nullptr;
  return graph;
}

void Graph::replay() const {
  for (const std::function<void()> &work : *static_cast<Recording *>(handle))
    work();
}

} // namespace gptc::cuda
