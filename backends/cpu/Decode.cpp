//===- Decode.cpp - CPU kernels of incremental decoding -------------------===//
//
// Decoding is bandwidth-bound: each step reads every weight once and every
// cached key and value once. cachedAttention therefore streams each K/V row
// once for all the query heads of its group, and splits long prefixes over
// the threads when there are few (row, head) pairs to share out.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <omp.h>
#include <vector>

namespace gptc::cpu {

namespace {

/// A cache element as float, and back: float is stored as is, bfloat16 as
/// its bits, rounded to nearest even.
inline float load(float value) { return value; }
inline float load(uint16_t bits) { return bf16ToF32(bits); }
inline void store(float value, float &slot) { slot = value; }
inline void store(float value, uint16_t &slot) { slot = f32ToBf16(value); }

template <typename Element>
void appendEntries(const int32_t *lengths, // [R]
                   const float *entries,   // [R, T, Hkv, D]
                   Element *cache,         // [L, R, Cap, Hkv, D]
                   int64_t R, int64_t Cap, int64_t Hkv, int64_t D, int64_t T,
                   int32_t layer) {
  const int64_t slot = Hkv * D; // elements per cached token
  for (int64_t r = 0; r < R; ++r) {
    if (lengths[r] < 0 || lengths[r] + T > Cap) {
      std::fprintf(stderr,
                   "gptc: internal error: row %lld of the KV cache would "
                   "overflow (%d + %lld tokens > capacity %lld)\n",
                   (long long)r, lengths[r], (long long)T, (long long)Cap);
      std::abort();
    }
    Element *dst = cache + ((layer * R + r) * Cap + lengths[r]) * slot;
    const float *src = entries + r * T * slot;
    for (int64_t i = 0; i < T * slot; ++i)
      store(src[i], dst[i]);
  }
}

} // namespace

void kvAppend(const int32_t *lengths, const float *entries, float *cache,
              int64_t L, int64_t R, int64_t Cap, int64_t Hkv, int64_t D,
              int64_t T, int32_t layer) {
  appendEntries(lengths, entries, cache, R, Cap, Hkv, D, T, layer);
}

void kvAppendBf16(const int32_t *lengths, const float *entries, uint16_t *cache,
                  int64_t L, int64_t R, int64_t Cap, int64_t Hkv, int64_t D,
                  int64_t T, int32_t layer) {
  appendEntries(lengths, entries, cache, R, Cap, Hkv, D, T, layer);
}

void kvAdvance(int32_t *lengths, int64_t R, int32_t by) {
  for (int64_t r = 0; r < R; ++r)
    lengths[r] += by;
}

namespace {

/// The running softmax of one query over a range of keys: max, sum of
/// exp(s − max) and the weighted sum of values.
struct Partial {
  float max = -std::numeric_limits<float>::infinity();
  float sum = 0;
  std::vector<float> acc; // [D]
};

/// Attends the G query heads `q` [G, D] (one token) over keys [begin, end)
/// of one row and kv head; `partials` [G] accumulate.
template <typename Element>
void attendRange(const float *q, const Element *keys, const Element *values,
                 int64_t stride, int64_t begin, int64_t end, int64_t G,
                 int64_t D, float scale, Partial *partials) {
  std::vector<float> scores(G);
  for (int64_t j = begin; j < end; ++j) {
    const Element *k = keys + j * stride, *v = values + j * stride;
    for (int64_t g = 0; g < G; ++g) {
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t d = 0; d < D; ++d)
        s += q[g * D + d] * load(k[d]);
      scores[g] = s * scale;
    }
    for (int64_t g = 0; g < G; ++g) {
      Partial &p = partials[g];
      float newMax = std::max(p.max, scores[g]);
      float correction = fastExp(p.max - newMax);
      float weight = fastExp(scores[g] - newMax);
      p.sum = p.sum * correction + weight;
      float *acc = p.acc.data();
#pragma omp simd
      for (int64_t d = 0; d < D; ++d)
        acc[d] = acc[d] * correction + weight * load(v[d]);
      p.max = newMax;
    }
  }
}

} // namespace

namespace {

template <typename Element>
void attendCached(const float *q,         // [R, T, H, D]
                  const Element *kCache,  // [L, R, Cap, Hkv, D]
                  const Element *vCache,  // [L, R, Cap, Hkv, D]
                  const int32_t *lengths, // [R], before this chunk
                  float *out,             // [R, T, H, D]
                  int64_t R, int64_t Cap, int64_t Hkv, int64_t D, int64_t T,
                  int64_t H, int32_t layer, float scale) {
  const int64_t G = H / Hkv, stride = Hkv * D;
  // Work items: (row, kv head, token, split of the prefix).
  const int64_t pairs = R * Hkv * T;
  const int64_t threads = omp_get_max_threads();
  const int64_t splits = pairs >= threads ? 1 : (threads + pairs - 1) / pairs;
  std::vector<Partial> partials(pairs * splits * G);
  for (Partial &p : partials)
    p.acc.assign(D, 0.0f);

  // Worth threads only when there are enough keys to read.
  const bool parallel = lengths[0] * pairs * D >= kParallelThreshold;
#pragma omp parallel for collapse(2) schedule(dynamic) if (parallel)
  for (int64_t item = 0; item < pairs; ++item)
    for (int64_t split = 0; split < splits; ++split) {
      const int64_t r = item / (Hkv * T), kv = item / T % Hkv, t = item % T;
      const int64_t visible = lengths[r] + t + 1;
      const int64_t chunk = (visible + splits - 1) / splits;
      const int64_t begin = std::min(visible, split * chunk);
      const int64_t end = std::min(visible, begin + chunk);
      const int64_t base = ((layer * R + r) * Cap) * stride + kv * D;
      attendRange(q + ((r * T + t) * H + kv * G) * D, kCache + base,
                  vCache + base, stride, begin, end, G, D, scale,
                  &partials[(item * splits + split) * G]);
    }

    // Combine the splits of each query head by their log-sum-exp.
#pragma omp parallel for if (parallel)
  for (int64_t item = 0; item < pairs; ++item) {
    const int64_t r = item / (Hkv * T), kv = item / T % Hkv, t = item % T;
    for (int64_t g = 0; g < G; ++g) {
      float max = -std::numeric_limits<float>::infinity();
      for (int64_t split = 0; split < splits; ++split)
        max = std::max(max, partials[(item * splits + split) * G + g].max);
      float sum = 0;
      float *o = out + ((r * T + t) * H + kv * G + g) * D;
      std::fill(o, o + D, 0.0f);
      for (int64_t split = 0; split < splits; ++split) {
        const Partial &p = partials[(item * splits + split) * G + g];
        if (p.sum == 0)
          continue; // an empty split
        float weight = fastExp(p.max - max);
        sum += p.sum * weight;
        for (int64_t d = 0; d < D; ++d)
          o[d] += p.acc[d] * weight;
      }
      for (int64_t d = 0; d < D; ++d)
        o[d] /= sum;
    }
  }
}

} // namespace

void cachedAttention(const float *q, const float *kCache, const float *vCache,
                     const int32_t *lengths, float *out, int64_t L, int64_t R,
                     int64_t Cap, int64_t Hkv, int64_t D, int64_t T, int64_t H,
                     int32_t layer, float scale) {
  attendCached(q, kCache, vCache, lengths, out, R, Cap, Hkv, D, T, H, layer,
               scale);
}

void cachedAttentionBf16(const float *q, const uint16_t *kCache,
                         const uint16_t *vCache, const int32_t *lengths,
                         float *out, int64_t L, int64_t R, int64_t Cap,
                         int64_t Hkv, int64_t D, int64_t T, int64_t H,
                         int32_t layer, float scale) {
  attendCached(q, kCache, vCache, lengths, out, R, Cap, Hkv, D, T, H, layer,
               scale);
}

} // namespace gptc::cpu
