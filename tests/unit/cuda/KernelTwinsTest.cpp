//===- KernelTwinsTest.cpp - every kernel in both runtimes ----------------===//
//
// Each kernel of backends/Kernels.def must exist in the CPU runtime and in
// the CUDA runtime with the same signature. Both declare their kernels from
// the list; taking every kernel's address here makes linking this test
// fail when either runtime lacks a definition of exactly that signature (a
// definition with other parameters is another overload, not the kernel).
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"
#include "backends/cuda/Ops.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace gptc {
namespace {

#define GPTC_KERNEL(name, ...)                                                 \
  static_assert(std::is_same_v<decltype(&cpu::name), decltype(&cuda::name)>,   \
                #name " differs between the CPU and CUDA runtimes");
#include "backends/Kernels.def"

struct Twins {
  const char *name;
  const void *cpu;
  const void *cuda;
};

const Twins kTwins[] = {
#define GPTC_KERNEL(name, ...)                                                 \
  {#name, reinterpret_cast<const void *>(&cpu::name),                          \
   reinterpret_cast<const void *>(&cuda::name)},
#include "backends/Kernels.def"
};

TEST(KernelTwins, EveryKernelIsDefinedInBothRuntimes) {
  for (const Twins &twins : kTwins) {
    EXPECT_NE(twins.cpu, nullptr) << twins.name;
    EXPECT_NE(twins.cuda, nullptr) << twins.name;
    EXPECT_NE(twins.cpu, twins.cuda) << twins.name;
  }
}

} // namespace
} // namespace gptc
