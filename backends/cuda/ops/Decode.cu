//===- Decode.cu - the decode-time ops on the GPU -------------------------===//
//
// ropeAt, kvAppend, cachedAttention and kvAdvance of backends/cuda/Ops.h:
// launches of the kernels in backends/cuda/kernels/Decode.cuh (and of
// Rope.cuh's, which takes per-row positions). A decode step is captured
// into a CUDA graph and replayed, so these functions never read the
// lengths (they live on the device) and size every launch and scratch
// buffer from the shapes alone.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/Workspace.h"
#include "backends/cuda/kernels/Decode.cuh"
#include "backends/cuda/kernels/Rope.cuh"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace gptc::cuda {

namespace {

/// Blocks a cachedAttention launch aims for: two per SM of an H100 (132
/// SMs), so that a step with few (row, kv head) pairs still fills the GPU.
constexpr int64_t kTargetBlocks = 2 * 132;

template <typename Element>
void appendEntries(const int32_t *lengths, // [R]
                   const float *entries,   // [R, T, Hkv, D]
                   Element *cache,         // [L, R, Cap, Hkv, D]
                   int64_t R, int64_t Cap, int64_t Hkv, int64_t D, int64_t T,
                   int32_t layer) {
  launch("kvAppend", &kernels::kvAppendKernel<Element>,
         blocksFor(R * T * Hkv * D, kernels::kBlockThreads),
         dim3(kernels::kBlockThreads), 0, lengths, entries, cache, R, Cap,
         Hkv * D, T, layer);
}

/// The number of splits of the keys of each (row, kv head): enough blocks
/// for kTargetBlocks, but no more splits than chunks of kMinSplitKeys in
/// the capacity (the most keys a query can see).
int64_t splitCount(int64_t pairs, int64_t Cap) {
  const int64_t wanted = (kTargetBlocks + pairs - 1) / pairs;
  const int64_t most =
      (Cap + kernels::kMinSplitKeys - 1) / kernels::kMinSplitKeys;
  return std::max<int64_t>(1, std::min(wanted, most));
}

template <typename Element>
void attendCached(const float *q,         // [R, T, H, D]
                  const Element *kCache,  // [L, R, Cap, Hkv, D]
                  const Element *vCache,  // [L, R, Cap, Hkv, D]
                  const int32_t *lengths, // [R], before this chunk
                  float *out,             // [R, T, H, D]
                  int64_t R, int64_t Cap, int64_t Hkv, int64_t D, int64_t T,
                  int64_t H, int32_t layer, float scale) {
  if (!isDecodeHeadDimSupported(D)) {
    std::fprintf(stderr,
                 "error: cachedAttention on the GPU needs a head dim that is "
                 "a multiple of 4 and at most %lld, got %lld\n",
                 (long long)kMaxDecodeHeadDim, (long long)D);
    std::exit(1);
  }
  const int64_t rowBlocks =
      (H / Hkv * T + kernels::kDecodeRows - 1) / kernels::kDecodeRows;
  const int64_t splits = splitCount(R * Hkv * rowBlocks, Cap);

  // One split writes straight into `out`, which has its layout.
  float *partialOut = out, *partialLse = nullptr;
  if (splits > 1) {
    const int64_t queryRows = splits * R * T * H;
    partialOut = static_cast<float *>(
        scratch(Scratch::DecodePartials, queryRows * (D + 1) * sizeof(float)));
    partialLse = partialOut + queryRows * D;
  }
  launch("cachedAttention",
         D <= 128 ? &kernels::attendSplitKernel<Element, 1>
                  : &kernels::attendSplitKernel<Element, 2>,
         dim3(splits, R * Hkv, rowBlocks), dim3(kernels::kDecodeThreads),
         kernels::decodeSharedBytes(D), q, kCache, vCache, lengths, partialOut,
         partialLse, R, Cap, Hkv, D, T, H, layer, scale);
  if (splits > 1)
    launch("cachedAttention (combine)", &kernels::combineSplitsKernel,
           blocksFor(R * T * H * D, kernels::kBlockThreads),
           dim3(kernels::kBlockThreads), 0, partialOut, partialLse, out, splits,
           R * T * H, D);
}

} // namespace

void ropeAt(const float *x,           // [R, T, H, D]
            const int32_t *positions, // [R]
            float *y,                 // [R, T, H, D]
            int64_t R, int64_t T, int64_t H, int64_t D, float base,
            int32_t roundBf16) {
  launch("ropeAt", &kernels::ropeKernel, dim3(unsigned(T), unsigned(R)),
         kernels::ropeBlock(H, D), 0, x, positions, y, T, H, D, base, roundBf16,
         /*inverse=*/0);
}

void kvAppend(const int32_t *lengths, // [R]
              const float *entries,   // [R, T, Hkv, D]
              float *cache,           // [L, R, Cap, Hkv, D]
              int64_t L, int64_t R, int64_t Cap, int64_t Hkv, int64_t D,
              int64_t T, int32_t layer) {
  appendEntries(lengths, entries, cache, R, Cap, Hkv, D, T, layer);
}

void kvAppendBf16(const int32_t *lengths, // [R]
                  const float *entries,   // [R, T, Hkv, D]
                  uint16_t *cache,        // [L, R, Cap, Hkv, D]
                  int64_t L, int64_t R, int64_t Cap, int64_t Hkv, int64_t D,
                  int64_t T, int32_t layer) {
  appendEntries(lengths, entries, cache, R, Cap, Hkv, D, T, layer);
}

void cachedAttention(const float *q,         // [R, T, H, D]
                     const float *kCache,    // [L, R, Cap, Hkv, D]
                     const float *vCache,    // [L, R, Cap, Hkv, D]
                     const int32_t *lengths, // [R]
                     float *out,             // [R, T, H, D]
                     int64_t L, int64_t R, int64_t Cap, int64_t Hkv, int64_t D,
                     int64_t T, int64_t H, int32_t layer, float scale) {
  attendCached(q, kCache, vCache, lengths, out, R, Cap, Hkv, D, T, H, layer,
               scale);
}

void cachedAttentionBf16(const float *q,         // [R, T, H, D]
                         const uint16_t *kCache, // [L, R, Cap, Hkv, D]
                         const uint16_t *vCache, // [L, R, Cap, Hkv, D]
                         const int32_t *lengths, // [R]
                         float *out,             // [R, T, H, D]
                         int64_t L, int64_t R, int64_t Cap, int64_t Hkv,
                         int64_t D, int64_t T, int64_t H, int32_t layer,
                         float scale) {
  attendCached(q, kCache, vCache, lengths, out, R, Cap, Hkv, D, T, H, layer,
               scale);
}

void kvAdvance(int32_t *lengths, // [R]
               int64_t R, int32_t by) {
  launch("kvAdvance", &kernels::kvAdvanceKernel,
         blocksFor(R, kernels::kBlockThreads), dim3(kernels::kBlockThreads), 0,
         lengths, R, by);
}

} // namespace gptc::cuda
