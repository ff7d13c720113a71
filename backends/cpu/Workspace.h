//===- Workspace.h - aligned scratch memory for the kernels -----*- C++ -*-===//
//
// Private to the CPU kernels. AlignedFloats is an array that starts on a
// cache line. workspace() hands out large temporary buffers that outlive
// the call: a freed buffer of many megabytes goes back to the system, and
// touching a new one at the next call costs a page fault per 4 KiB, about
// a tenth of the time of the fused attention's gradient. The buffers belong
// to the calling thread, only grow, and are kept until the thread exits.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_WORKSPACE_H
#define GPTC_BACKENDS_CPU_WORKSPACE_H

#include <algorithm>
#include <cstdint>
#include <memory>
#include <new>

namespace gptc::cpu {

/// An uninitialised array of floats that starts on a cache line, so that
/// vector loads of rows whose length is a multiple of 16 floats never
/// straddle two lines.
class AlignedFloats {
public:
  explicit AlignedFloats(int64_t n)
      : storage(static_cast<float *>(::operator new[](
            static_cast<size_t>(n) * sizeof(float), kAlignment))),
        count(n) {}
  ~AlignedFloats() { ::operator delete[](storage, kAlignment); }
  AlignedFloats(const AlignedFloats &) = delete;
  AlignedFloats &operator=(const AlignedFloats &) = delete;

  float *data() { return storage; }
  const float *data() const { return storage; }
  int64_t size() const { return count; }
  /// Sets every element to `value`.
  void fill(float value) { std::fill(storage, storage + count, value); }

private:
  static constexpr std::align_val_t kAlignment{64};
  float *storage;
  int64_t count;
};

/// Buffers a kernel may hold at once.
constexpr int kWorkspaceSlots = 4;

/// The calling thread's workspace buffer number `slot` (< kWorkspaceSlots),
/// grown to at least n floats, cache-line aligned and uninitialised. The
/// buffers of one kernel call use distinct slots; kernels do not run inside
/// one another, so different kernels share the slots.
inline float *workspace(int slot, int64_t n) {
  thread_local std::unique_ptr<AlignedFloats> buffers[kWorkspaceSlots];
  std::unique_ptr<AlignedFloats> &buffer = buffers[slot];
  if (!buffer || buffer->size() < n)
    buffer = std::make_unique<AlignedFloats>(n);
  return buffer->data();
}

/// workspace(slot, ...) viewed as at least n bfloat16 values (the bits of
/// each, as gptc::f32ToBf16 gives them), cache-line aligned and
/// uninitialised.
inline uint16_t *bf16Workspace(int slot, int64_t n) {
  return reinterpret_cast<uint16_t *>(workspace(slot, (n + 1) / 2));
}

} // namespace gptc::cpu

#endif // GPTC_BACKENDS_CPU_WORKSPACE_H
