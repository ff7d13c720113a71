//===- Emulator.h - the emulated stream -------------------------*- C++ -*-===//
//
// Host-side work that stands for GPU work in the emulator build (a kernel,
// a cuBLASLt GEMM, a device copy) goes through emulatorEnqueue: it runs at
// once, or is recorded while a CUDA graph is captured.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_EMULATOR_H
#define GPTC_BACKENDS_CUDA_EMULATOR_H

#include <functional>

namespace gptc::cuda {

void emulatorEnqueue(std::function<void()> work);

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_EMULATOR_H
