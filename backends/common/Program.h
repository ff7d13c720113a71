//===- Program.h - what a generated program's buffers hold ------*- C++ -*-===//
//
// Every function gptc generates comes with a ProgramInfo, so that one host
// program per mode can load weights into the parameter buffer, size the
// arena and check inputs, whatever the model.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_PROGRAM_H
#define GPTC_BACKENDS_COMMON_PROGRAM_H

#include <cstddef>
#include <cstdint>
#include <iterator>

namespace gptc {

/// One parameter, input or output of a generated function.
struct BufferInfo {
  const char *name;  // state_dict name of a parameter, or "tokens", ...
  const char *dtype; // "float" or "int32_t"
  int64_t rank;
  int64_t shape[8];
  int64_t offset; // byte offset in the parameter buffer (parameters)
  int64_t layer = -1; // parameters: the transformer block (the IR's
                      // gptc.layer), -1 outside the blocks

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t i = 0; i < rank; ++i)
      n *= shape[i];
    return n;
  }
};

struct ProgramInfo {
  const char *entry;  // name of the generated function
  const char *config; // the model config as JSON
  int64_t paramBytes; // size of the packed parameter buffer
  int64_t arenaBytes; // size of the planned activation arena
  const BufferInfo *params;
  size_t numParams;
  const BufferInfo *inputs;
  size_t numInputs;
  const BufferInfo *outputs;
  size_t numOutputs;
};

/// A typed pointer `byteOffset` bytes into a byte buffer: how generated code
/// addresses parameters and arena slots.
template <typename T> inline T *view(void *base, int64_t byteOffset) {
  return reinterpret_cast<T *>(static_cast<char *>(base) + byteOffset);
}

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_PROGRAM_H
