//===- DeviceInfoMain.cpp - gptc-cuda-info: is there a usable GPU? --------===//
//
// Prints the CUDA device gptc's binaries would use, or why there is none
// (exit 1). The GPU-only tests run it first and skip when it fails.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Device.h"

#include <cstdio>
#include <cstring>

int main(int argc, char **argv) {
  if (argc > 1 &&
      (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::puts("usage: gptc-cuda-info\n\nPrints the CUDA device that gptc's "
              "--target=cuda binaries use, or why none is usable (exit 1).");
    return 0;
  }
  gptc::Status status = gptc::cuda::initDevice();
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.message().c_str());
    return 1;
  }
  std::printf("%s\n", gptc::cuda::deviceDescription().c_str());
  return 0;
}
