//===- DeviceCuda.cu - Device.h on the CUDA runtime -----------------------===//
//
// One device (0, or a data-parallel rank's local rank), one non-blocking
// stream for everything gptc queues, and
// CUDA graphs captured on that stream. Without a driver or a device the
// runtime reports an error code, which initDevice turns into a message: the
// binaries never touch the GPU before initDevice succeeds.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Device.h"
#include "backends/cuda/Launch.h"

#include <cstdio>
#include <cstdlib>

namespace gptc::cuda {
namespace {

cudaStream_t theStream = nullptr;

/// The oldest architecture the fat binaries carry code for (sm_80).
constexpr int kMinMajor = 8;

} // namespace

void checkCuda(cudaError_t error, const char *what) {
  if (error == cudaSuccess)
    return;
  std::fprintf(stderr, "error: CUDA %s failed: %s\n", what,
               cudaGetErrorString(error));
  std::exit(1);
}

cudaStream_t stream() { return theStream; }

Status initDevice() {
  if (theStream)
    return Status::success();
  int driverVersion = 0;
  cudaDriverGetVersion(&driverVersion); // 0 when no driver is installed
  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0)
    return Status::error(
        "no CUDA device found; this binary needs an NVIDIA GPU of compute "
        "capability {}.0 or newer ({})",
        kMinMajor,
        driverVersion == 0     ? "no NVIDIA driver is installed"
        : error == cudaSuccess ? "the driver reports no devices"
                               : cudaGetErrorString(error));
  // One GPU per rank of a data-parallel run: the rank among those on this
  // machine (Open MPI's local rank; 0 when started on its own).
  const char *localRank = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  const int device = localRank && *localRank ? std::atoi(localRank) : 0;
  if (device >= count)
    return Status::error("local rank {} has no GPU of its own: this machine "
                         "has {}; start at most {} ranks per machine",
                         device, count, count);
  cudaDeviceProp properties;
  checkCuda(cudaGetDeviceProperties(&properties, device),
            "cudaGetDeviceProperties");
  if (properties.major < kMinMajor)
    return Status::error("CUDA device {} ({}) has compute capability {}.{}; "
                         "this binary needs {}.0 or newer",
                         device, properties.name, properties.major,
                         properties.minor, kMinMajor);
  checkCuda(cudaSetDevice(device), "cudaSetDevice");
  checkCuda(cudaStreamCreateWithFlags(&theStream, cudaStreamNonBlocking),
            "cudaStreamCreate");
  return Status::success();
}

std::string deviceDescription() {
  int device = 0;
  checkCuda(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp properties;
  checkCuda(cudaGetDeviceProperties(&properties, device),
            "cudaGetDeviceProperties");
  return fmt::format("{} (sm_{}{}, {} SMs, {:.1f} GiB)", properties.name,
                     properties.major, properties.minor,
                     properties.multiProcessorCount,
                     double(properties.totalGlobalMem) / (1 << 30));
}

void *deviceAlloc(size_t bytes, const char *what) {
  void *pointer = nullptr;
  cudaError_t error = cudaMalloc(&pointer, bytes ? bytes : 1);
  if (error != cudaSuccess) {
    std::fprintf(stderr,
                 "error: cannot allocate %zu bytes of GPU memory for "
                 "%s: %s\n",
                 bytes, what, cudaGetErrorString(error));
    std::exit(1);
  }
  return pointer;
}

void deviceFree(void *pointer) { checkCuda(cudaFree(pointer), "cudaFree"); }

void copyToDevice(void *device, const void *host, size_t bytes) {
  checkCuda(
      cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, theStream),
      "copy to the device");
  checkCuda(cudaStreamSynchronize(theStream), "copy to the device");
}

void copyToHost(void *host, const void *device, size_t bytes) {
  checkCuda(
      cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, theStream),
      "copy to the host");
  checkCuda(cudaStreamSynchronize(theStream), "copy to the host");
}

void copyOnDevice(void *to, const void *from, size_t bytes) {
  checkCuda(
      cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, theStream),
      "copy on the device");
}

void fillZero(void *device, size_t bytes) {
  checkCuda(cudaMemsetAsync(device, 0, bytes, theStream), "cudaMemsetAsync");
}

void synchronize() {
  checkCuda(cudaStreamSynchronize(theStream), "cudaStreamSynchronize");
}

Graph::Graph(Graph &&other) noexcept : handle(other.handle) {
  other.handle = nullptr;
}

Graph &Graph::operator=(Graph &&other) noexcept {
  std::swap(handle, other.handle);
  return *this;
}

Graph::~Graph() {
  if (handle)
    cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(handle));
}

void Graph::beginCapture() {
  checkCuda(cudaStreamBeginCapture(theStream, cudaStreamCaptureModeThreadLocal),
            "cudaStreamBeginCapture");
}

Graph Graph::endCapture() {
  cudaGraph_t graph;
  checkCuda(cudaStreamEndCapture(theStream, &graph), "cudaStreamEndCapture");
  cudaGraphExec_t exec;
  checkCuda(cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");
  checkCuda(cudaGraphDestroy(graph), "cudaGraphDestroy");
  Graph result;
  result.handle = exec;
  return result;
}

void Graph::replay() const {
  checkCuda(cudaGraphLaunch(static_cast<cudaGraphExec_t>(handle), theStream),
            "cudaGraphLaunch");
}

} // namespace gptc::cuda
