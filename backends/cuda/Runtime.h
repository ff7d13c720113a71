//===- Runtime.h - what generated CUDA programs include ---------*- C++ -*-===//

#ifndef GPTC_BACKENDS_CUDA_RUNTIME_H
#define GPTC_BACKENDS_CUDA_RUNTIME_H

#include "backends/common/Program.h"
#include "backends/cuda/Ops.h"

#endif // GPTC_BACKENDS_CUDA_RUNTIME_H
