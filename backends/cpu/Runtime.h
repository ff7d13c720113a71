//===- Runtime.h - what generated CPU programs include ----------*- C++ -*-===//

#ifndef GPTC_BACKENDS_CPU_RUNTIME_H
#define GPTC_BACKENDS_CPU_RUNTIME_H

#include "backends/common/Program.h"
#include "backends/cpu/Kernels.h"

#endif // GPTC_BACKENDS_CPU_RUNTIME_H
