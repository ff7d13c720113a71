//===- Kernels.h - CPU runtime kernels of the forward pass ------*- C++ -*-===//
//
// The kernels a generated CPU program calls, one per graph operation, plus
// small inline helpers they share (bfloat16 rounding, a vectorisable exp and
// a vectorisable maximum). The code generator calls every kernel
// generically, so each signature is: input pointers, output pointers,
// int64_t dimensions, then scalar attributes. Buffers are contiguous,
// row-major float32 unless noted; each kernel's comment gives the shapes in
// llm.c letters (B batch, T sequence, C channels, H query heads, Hkv
// key/value heads, D head size, V vocabulary). Callers guarantee
// non-negative dimensions, H % Hkv == 0 and an even D for rope.
//
// Precision: reductions whose length is a model dimension (rmsNorm's sum of
// squares, crossEntropy's sums) accumulate in double; softmax row sums, the
// attention's online-softmax sums and the GEMMs (oneDNN) accumulate in float.
// The kernels are parallelised with OpenMP and give the same results, up to
// float rounding of reductions, for any thread count.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_KERNELS_H
#define GPTC_BACKENDS_CPU_KERNELS_H

#include <algorithm>
#include <cstdint>
#include <limits>

namespace gptc::cpu {

/// `x` rounded to the nearest bfloat16 (ties to even) and widened back to
/// float. NaN stays NaN (quiet, same sign); overflow rounds to infinity.
inline float roundToBf16(float x) {
  uint32_t bits = __builtin_bit_cast(uint32_t, x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    // Keep sign and top payload bits; set the quiet bit so that dropping the
    // low payload cannot turn the NaN into an infinity.
    bits = (bits | 0x00400000u) & 0xffff0000u;
  } else {
    // Adding 0x7fff plus the lowest kept bit rounds to nearest, ties to even;
    // a carry out of the mantissa correctly bumps the exponent.
    const uint32_t lowestKept = (bits >> 16) & 1u;
    bits = (bits + 0x7fffu + lowestKept) & 0xffff0000u;
  }
  return __builtin_bit_cast(float, bits);
}

/// e^x for float, written with plain arithmetic, min/max and selects so that
/// loops calling it vectorise (glibc's expf does not without -ffast-math,
/// and GCC does not vectorise floorf under its default -ftrapping-math).
/// Cephes' method: x = n·ln2 + r with |r| <= ln2/2, a degree-6 polynomial for
/// e^r, then a scale by 2^n split into two normal powers of two so that
/// results in the subnormal range round correctly. Relative error is below
/// 2 ulp on the normal range (about 0.7 ulp measured); e^-inf = 0,
/// e^+inf = +inf, NaN stays NaN.
inline float fastExp(float x) {
  // Below kLowest the result is under half the smallest subnormal float.
  constexpr float kLowest = -104.0f;
  // ln(FLT_MAX): above it the result overflows.
  constexpr float kHighest = 88.7228394f;
  constexpr float kLog2e = 1.44269504088896341f;
  // ln 2 split so that n·kLn2Hi is exact for the n that occur.
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  // Adding then subtracting 1.5·2^23 rounds a float of magnitude < 2^22 to
  // an integer (the sum has no fraction bits left).
  constexpr float kRoundingShift = 12582912.0f;

  // Written as max(kLowest, x), a NaN compares false and becomes kLowest, so
  // the integer conversion below is always defined; the last select
  // restores it.
  const float clamped = std::min(std::max(kLowest, x), kHighest);
  const float n = (clamped * kLog2e + kRoundingShift) - kRoundingShift;
  const float r = clamped - n * kLn2Hi - n * kLn2Lo;
  float poly = 1.9875691500e-4f;
  poly = poly * r + 1.3981999507e-3f;
  poly = poly * r + 8.3334519073e-3f;
  poly = poly * r + 4.1665795894e-2f;
  poly = poly * r + 1.6666665459e-1f;
  poly = poly * r + 5.0000001201e-1f;
  const float expR = poly * r * r + r + 1.0f;

  // n is in [-150, 128]; both halves are in [-75, 64], so 2^half is normal.
  const int32_t nInt = static_cast<int32_t>(n);
  const int32_t nLow = nInt >> 1;
  const int32_t nHigh = nInt - nLow;
  const float lowScale =
      __builtin_bit_cast(float, static_cast<uint32_t>(nLow + 127) << 23);
  const float highScale =
      __builtin_bit_cast(float, static_cast<uint32_t>(nHigh + 127) << 23);
  const float result = expR * lowScale * highScale;

  const float overflowed =
      x > kHighest ? std::numeric_limits<float>::infinity() : result;
  return x != x ? x : overflowed;
}

/// The largest of `init` and x[n], ignoring NaNs. Written as a select,
/// which GCC vectorises (std::max in an omp simd max-reduction it does not).
inline float maxOf(const float *x, int64_t n, float init) {
  float result = init;
#pragma omp simd reduction(max : result)
  for (int64_t i = 0; i < n; ++i)
    result = x[i] > result ? x[i] : result;
  return result;
}

/// y[rows, out] = x[rows, in] · w[out, in]ᵀ (nn.Linear without bias), by
/// oneDNN's sgemm.
void linear(const float *x, const float *w, float *y, int64_t rows, int64_t in,
            int64_t out);

/// out[n, C] = table[V, C][ids[n], :]; ids (int32 [n]) are in [0, V).
void embedding(const float *table, const int32_t *ids, float *out, int64_t n,
               int64_t V, int64_t C);

/// y[rows, cols] = x[rows, cols] / sqrt(mean(x², last axis) + eps), without
/// a weight. The mean of squares accumulates in double.
void rmsNorm(const float *x, float *y, int64_t rows, int64_t cols, float eps);

/// Rotary embedding of x[B, T, H, D] into y[B, T, H, D] at positions 0..T-1,
/// nanochat's half-split convention: with a = x[..., :D/2] and
/// b = x[..., D/2:], y = concat(a·cos + b·sin, −a·sin + b·cos) where the
/// angle is t · invFreq[j] and invFreq[j] = 1 / base^(2j/D), all computed in
/// float32 as torch does. When roundBf16 != 0 the cos and sin tables are
/// rounded to bfloat16 first (as nanochat stores them).
void rope(const float *x, float *y, int64_t B, int64_t T, int64_t H, int64_t D,
          float base, int32_t roundBf16);

/// y[n] = factor · x[n].
void scale(const float *x, float *y, int64_t n, float factor);

/// y[n] = a[n] + b[n].
void add(const float *a, const float *b, float *y, int64_t n);

/// y[n] = relu(x[n])².
void reluSquare(const float *x, float *y, int64_t n);

/// y[n] = cap · tanh(x[n] / cap).
void softcap(const float *x, float *y, int64_t n, float cap);

/// loss[1] = mean, over the rows whose target != ignoreIndex, of
/// logsumexp(logits[r, :]) − logits[r, target[r]]; logits [rows, V], targets
/// int32 [rows], each in [0, V) or equal to ignoreIndex. NaN when every row
/// is ignored (as in PyTorch). Accumulates in double.
void crossEntropy(const float *logits, const int32_t *targets, float *loss,
                  int64_t rows, int64_t V, int32_t ignoreIndex);

/// Fused causal attention (FlashAttention-2 style: online softmax over key
/// tiles, no T×T matrix). q [B, T, H, D], k and v [B, T, Hkv, D], query head
/// h reads kv head h / (H / Hkv). Writes o [B, T, H, D] and lse [B, H, T],
/// the natural-log log-sum-exp of each query row's scaled scores. Scores are
/// scale · q·k; key j is visible to query i iff j <= i.
void causalAttention(const float *q, const float *k, const float *v, float *o,
                     float *lse, int64_t B, int64_t T, int64_t H, int64_t Hkv,
                     int64_t D, float scale);

/// s[B, H, T, T] = scale · q[B, T, H, D] · k[B, T, Hkv, D]ᵀ per (b, h), with
/// the head mapping of causalAttention. Every entry is written (no mask).
void attnScores(const float *q, const float *k, float *s, int64_t B, int64_t T,
                int64_t H, int64_t Hkv, int64_t D, float scale);

/// y[rows, T, T] = x[rows, T, T] where key j <= query i, −inf elsewhere
/// (rows = B·H).
void causalMask(const float *x, float *y, int64_t rows, int64_t T);

/// y[rows, cols] = softmax of x[rows, cols] over the last axis, after
/// subtracting the row maximum. Entries of −inf give 0; a row that is all
/// −inf gives NaN (as in PyTorch).
void softmax(const float *x, float *y, int64_t rows, int64_t cols);

/// o[B, T, H, D] = p[B, H, T, T] · v[B, T, Hkv, D] per (b, h), with the head
/// mapping of causalAttention.
void attnApply(const float *p, const float *v, float *o, int64_t B, int64_t T,
               int64_t H, int64_t Hkv, int64_t D);

} // namespace gptc::cpu

#endif // GPTC_BACKENDS_CPU_KERNELS_H
