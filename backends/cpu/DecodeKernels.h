//===- DecodeKernels.h - CPU kernels of incremental decoding ----*- C++ -*-===//
//
// The kernels of the decode graph (gptc-make-decode): RoPE at per-row
// positions, writing into the KV cache, attention of new tokens over the
// cached prefix, advancing the lengths. Called generically like Kernels.h:
// inputs, outputs, int64_t dimensions, scalars. The cache is
// [L, R, Cap, Hkv, D]: layer, row, slot, key/value head, head dim.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_DECODEKERNELS_H
#define GPTC_BACKENDS_CPU_DECODEKERNELS_H

#include <cstdint>

namespace gptc::cpu {

/// y[R, T, H, D] = rope(x) with row r's token t at position
/// positions[r] + t (nanochat's half-split rotation, as `rope`).
void ropeAt(const float *x, const int32_t *positions, float *y, int64_t R,
            int64_t T, int64_t H, int64_t D, float base, int32_t roundBf16);

/// Writes entries [R, T, Hkv, D] into layer `layer` of cache
/// [L, R, Cap, Hkv, D] at slots lengths[r] .. lengths[r] + T − 1. Aborts
/// with a message if a row would overflow (the host checks first).
void kvAppend(const int32_t *lengths, const float *entries, float *cache,
              int64_t L, int64_t R, int64_t Cap, int64_t Hkv, int64_t D,
              int64_t T, int32_t layer);

/// out[R, T, H, D]: query t of row r (q [R, T, H, D]) attends over slots
/// 0 .. lengths[r] + t of layer `layer` of the caches (the chunk's own
/// keys included), softmax(scale · q·k) · v. Query head h reads key/value
/// head h / (H / Hkv); the heads of a group share each K/V row read. When
/// there are fewer (row, kv head) pairs than threads, the prefix is split
/// among the threads and the parts are combined by their log-sum-exp.
void cachedAttention(const float *q, const float *kCache, const float *vCache,
                     const int32_t *lengths, float *out, int64_t L, int64_t R,
                     int64_t Cap, int64_t Hkv, int64_t D, int64_t T, int64_t H,
                     int32_t layer, float scale);

/// kvAppend and cachedAttention over a bfloat16 cache (the bits, as
/// uint16_t): entries are rounded to nearest even when written, widened
/// exactly when read; the arithmetic stays float32.
void kvAppendBf16(const int32_t *lengths, const float *entries, uint16_t *cache,
                  int64_t L, int64_t R, int64_t Cap, int64_t Hkv, int64_t D,
                  int64_t T, int32_t layer);
void cachedAttentionBf16(const float *q, const uint16_t *kCache,
                         const uint16_t *vCache, const int32_t *lengths,
                         float *out, int64_t L, int64_t R, int64_t Cap,
                         int64_t Hkv, int64_t D, int64_t T, int64_t H,
                         int32_t layer, float scale);

/// lengths[R] += by.
void kvAdvance(int32_t *lengths, int64_t R, int32_t by);

} // namespace gptc::cpu

#endif // GPTC_BACKENDS_CPU_DECODEKERNELS_H
