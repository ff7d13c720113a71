//===- Workspace.cpp - scratch device buffers of the operations -----------===//

#include "backends/cuda/Workspace.h"

#include "backends/cuda/Device.h"

namespace gptc::cuda {
namespace {

struct Buffer {
  void *pointer = nullptr;
  size_t bytes = 0;
};

Buffer buffers[size_t(Scratch::Count)];

/// What each slot holds, for allocation failures.
const char *const kSlotNames[] = {"the bf16 GEMM operand A",
                                  "the bf16 GEMM operand B",
                                  "a chunk of lm_head logits",
                                  "a chunk of lm_head logit gradients",
                                  "a chunk of bf16 lm_head logit gradients",
                                  "the per-row losses",
                                  "the cuBLASLt workspace",
                                  "the decode attention splits",
                                  "the attention gradient's row sums",
                                  "cuDNN attention's tensors",
                                  "cuDNN attention's workspace"};
static_assert(sizeof(kSlotNames) / sizeof(kSlotNames[0]) ==
                  size_t(Scratch::Count),
              "one name per scratch slot");

} // namespace

void *scratch(Scratch slot, size_t bytes) {
  Buffer &buffer = buffers[size_t(slot)];
  if (buffer.bytes < bytes) {
    if (buffer.pointer)
      deviceFree(buffer.pointer);
    buffer.pointer = deviceAlloc(bytes, kSlotNames[size_t(slot)]);
    buffer.bytes = bytes;
  }
  return buffer.pointer;
}

} // namespace gptc::cuda
