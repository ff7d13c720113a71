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

/// The names of the buffers that generated functions and the host programs
/// pass between them: the compiler names a function's inputs and outputs
/// with these, the hosts find them by these.
namespace buffers {
constexpr const char *kTokens = "tokens";   // int32 [B, T] (or [R, T])
constexpr const char *kTargets = "targets"; // int32 [B, T], -1 = ignored
constexpr const char *kLogits = "logits";   // float [B, T, V]
constexpr const char *kLoss = "loss";       // float [], mean cross-entropy
constexpr const char *kKCache = "k_cache";  // [L, R, Cap, Hkv, D]
constexpr const char *kVCache = "v_cache";  // [L, R, Cap, Hkv, D]
constexpr const char *kLengths = "lengths"; // int32 [R], filled slots per row
} // namespace buffers

/// The tensors that the checking programs (`gptc compile --host=gradcheck`,
/// `--host=decodecheck`) write for `gptc verify` to compare.
namespace checks {
constexpr const char *kLogits = buffers::kLogits;  // forward's logits
constexpr const char *kLoss = buffers::kLoss;      // forward's loss
constexpr const char *kStepLoss = "step_loss";     // train_step's loss
constexpr const char *kGradPrefix = "grad.";       // + a parameter's name
constexpr const char *kStepLogits = "step_logits"; // [steps, V] greedy decode
constexpr const char *kTokens = "tokens";          // [steps] greedy tokens
/// max |logits| difference of a chunked prefill against one token a time.
constexpr const char *kChunkedPrefillDiff = "chunked_prefill_diff";
} // namespace checks

/// The element type of a generated function's buffer.
enum class ElementType : int32_t {
  F32,  // float
  I32,  // int32_t
  BF16, // bfloat16, as its bits in uint16_t
};

/// The bytes of one element of `type`.
constexpr int64_t elementBytes(ElementType type) {
  return type == ElementType::BF16 ? 2 : 4;
}

/// The C++ type that holds an element of `type`.
constexpr const char *cppTypeName(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return "float";
  case ElementType::I32:
    return "int32_t";
  case ElementType::BF16:
    return "uint16_t";
  }
  return "";
}

/// One parameter, input or output of a generated function.
struct BufferInfo {
  const char *name; // state_dict name of a parameter, or a buffers:: name
  ElementType dtype;
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
