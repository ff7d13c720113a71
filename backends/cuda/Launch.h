//===- Launch.h - launch a single-source kernel -----------------*- C++ -*-===//
//
// gptc::cuda::launch starts a kernel on gptc's one stream: with <<<>>> under
// nvcc, on the SIMT emulator otherwise (recorded instead while a CUDA graph
// is being captured, see Device.h). Arguments are converted to the kernel's
// parameter types and, like CUDA's, copied at launch.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_LAUNCH_H
#define GPTC_BACKENDS_CUDA_LAUNCH_H

#include "backends/cuda/Cuda.h"

#include <cstddef>
#include <functional>

namespace gptc::cuda {

/// Largest dynamic shared memory a kernel may use without opting in.
constexpr size_t kDefaultSharedBytes = 48 * 1024;

#ifdef __CUDACC__
/// The stream every kernel, copy and library call of gptc runs on.
cudaStream_t stream();

/// Exits with a message naming `what` if the last CUDA call failed.
void checkCuda(cudaError_t error, const char *what);

template <typename... Params, typename... Args>
void launch(const char *name, void (*kernel)(Params...), dim3 grid, dim3 block,
            size_t sharedBytes, Args... args) {
  if (sharedBytes > kDefaultSharedBytes)
    checkCuda(cudaFuncSetAttribute(kernel,
                                   cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   int(sharedBytes)),
              name);
  kernel<<<grid, block, sharedBytes, stream()>>>(Params(args)...);
  checkCuda(cudaGetLastError(), name);
}
#else
/// Runs (or, during capture, records) `body` over the grid on the emulator.
void emulatorLaunch(const char *name, dim3 grid, dim3 block, size_t sharedBytes,
                    std::function<void()> body);

template <typename... Params, typename... Args>
void launch(const char *name, void (*kernel)(Params...), dim3 grid, dim3 block,
            size_t sharedBytes, Args... args) {
  emulatorLaunch(name, grid, block, sharedBytes,
                 [=] { kernel(Params(args)...); });
}
#endif

/// Blocks of `threads` threads covering `n` items, one per thread.
inline dim3 blocksFor(int64_t n, int threads) {
  return dim3(unsigned((n + threads - 1) / threads));
}

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_LAUNCH_H
