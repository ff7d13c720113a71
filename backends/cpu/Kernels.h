//===- Kernels.h - CPU runtime kernels for training -------------*- C++ -*-===//
//
// The kernels a generated CPU program calls, one per graph operation of the
// forward pass and of its gradient, plus small inline helpers they share
// (bfloat16 rounding, a vectorisable exp, tanh and maximum). The code
// generator calls every kernel generically, so each signature is: input
// pointers, output pointers, int64_t dimensions, then scalar attributes.
// Buffers are contiguous, row-major float32 unless noted; each kernel's
// comment gives the shapes in llm.c letters (B batch, T sequence, C
// channels, H query heads, Hkv key/value heads, D head size, V vocabulary).
// Callers guarantee non-negative dimensions, H % Hkv == 0 and an even D for
// rope. Outputs never alias inputs, and every output element is written.
//
// Precision: reductions whose length is a model dimension (rmsNorm's sums of
// squares, the cross-entropy losses' sums) accumulate in double; softmax row
// sums, the attention's online-softmax sums and the GEMMs (oneDNN)
// accumulate in float; the *Bf16 GEMMs round their inputs to bfloat16. The
// kernels are parallelised with OpenMP and give the same results, up to
// float rounding of reductions, for any thread count.
// crossEntropy and embeddingBackward sum in an order that does not depend on
// the thread count, causalAttentionBackward in one fixed for a fixed count.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CPU_KERNELS_H
#define GPTC_BACKENDS_CPU_KERNELS_H

#include "backends/common/BFloat16.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace gptc::cpu {

/// Below this many elements a kernel runs on the calling thread: waking the
/// OpenMP team costs more than the work (decode steps are full of such ops).
constexpr int64_t kParallelThreshold = 1 << 15;

/// `x` rounded to the nearest bfloat16 (ties to even) and widened back to
/// float. NaN stays NaN (quiet, same sign); overflow rounds to infinity.
inline float roundToBf16(float x) { return bf16ToF32(f32ToBf16(x)); }

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

/// tanh(x) within a few ulp, vectorisable (Cephes' tanhf): an odd
/// polynomial for |x| < 0.625, else sign(x)·(1 − 2 / (e^(2|x|) + 1)), which
/// has no cancellation there. Large |x| gives ±1, NaN stays NaN.
inline float fastTanh(float x) {
  const float magnitude = std::fabs(x);
  const float z = x * x;
  float poly = -5.70498872745e-3f;
  poly = poly * z + 2.06390887954e-2f;
  poly = poly * z - 5.37397155531e-2f;
  poly = poly * z + 1.33314422036e-1f;
  poly = poly * z - 3.33332819422e-1f;
  const float small = poly * z * x + x;
  const float large =
      std::copysign(1.0f - 2.0f / (fastExp(2.0f * magnitude) + 1.0f), x);
  return magnitude < 0.625f ? small : large;
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

/// linear on bfloat16 inputs (`gptc compile --precision=bf16`): x and w
/// rounded to bfloat16 (ties to even), their products (exact in float)
/// summed in float, y float. Like the processor's bf16 dot-product
/// instructions that compute it, it counts inputs below the smallest normal
/// float (2^-126) as zero and may flush results below it to zero.
void linearBf16(const float *x, const float *w, float *y, int64_t rows,
                int64_t in, int64_t out);

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
/// rounded to bfloat16 first (as nanochat stores them). When inverse != 0
/// the rotation is by −angle, y = concat(a·cos − b·sin, a·sin + b·cos): the
/// transpose of the forward rotation, so rope's gradient (dx = rope of dy
/// with inverse set).
void rope(const float *x, float *y, int64_t B, int64_t T, int64_t H, int64_t D,
          float base, int32_t roundBf16, int32_t inverse);

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

//===----------------------------------------------------------------------===//
// Training: the gradients of the kernels above and fused lm_head losses.
// "dname" is the gradient of the loss with respect to buffer "name".
//===----------------------------------------------------------------------===//

/// y[n] = value.
void fill(float *y, int64_t n, float value);

/// Gradient of embedding: dtable[V, C] = 0, then dtable[ids[p], :] +=
/// dy[p, :] for p < n in order of p, with dy [n, C] and ids (int32 [n]) in
/// [0, V). Threads split the channels, so the result is the same for any
/// thread count.
void embeddingBackward(const int32_t *ids, const float *dy, float *dtable,
                       int64_t n, int64_t V, int64_t C);

/// Gradient of rmsNorm per row of x[rows, cols]: with r = 1/sqrt(mean(x²) +
/// eps) and y = x·r, dx[rows, cols] = r·(dy[rows, cols] − y·mean(dy∘y)).
/// The row sums accumulate in double.
void rmsNormBackward(const float *x, const float *dy, float *dx, int64_t rows,
                     int64_t cols, float eps);

/// Gradient of reluSquare: dx[n] = 2·relu(x[n])·dy[n].
void reluSquareBackward(const float *x, const float *dy, float *dx, int64_t n);

/// Gradients of linear (y[rows, out] = x[rows, in] · w[out, in]ᵀ):
/// dx[rows, in] = dy[rows, out] · w and dw[out, in] = dyᵀ · x, both
/// overwritten, by oneDNN's sgemm.
void linearBackward(const float *dy, const float *x, const float *w, float *dx,
                    float *dw, int64_t rows, int64_t in, int64_t out);

/// linearBackward on bfloat16 inputs, as linearBf16: dy, x and w rounded to
/// bfloat16 (ties to even), their products summed in float, dx and dw float
/// (overwritten).
void linearBackwardBf16(const float *dy, const float *x, const float *w,
                        float *dx, float *dw, int64_t rows, int64_t in,
                        int64_t out);

/// Gradients of causalAttention (FlashAttention-2 backward) with its
/// layouts: q, o, dout and dq [B, T, H, D]; k, v, dk and dv [B, T, Hkv, D];
/// lse [B, H, T] as the forward wrote it. The attention weights are
/// recomputed tile by tile as P = exp(scale·q·k − lse) (no T×T matrix), and
/// dk, dv sum over the H / Hkv query heads of their group. dq is summed from
/// per-thread partial buffers, so it is reproducible for a fixed thread
/// count.
void causalAttentionBackward(const float *q, const float *k, const float *v,
                             const float *o, const float *lse,
                             const float *dout, float *dq, float *dk, float *dv,
                             int64_t B, int64_t T, int64_t H, int64_t Hkv,
                             int64_t D, float scale);

/// Fused lm_head, soft-cap and cross-entropy: loss[1] = crossEntropy of the
/// logits cap·tanh(x[rows, C] · w[V, C]ᵀ / cap) against targets (int32
/// [rows], each in [0, V) or ignoreIndex), computed a chunk of rows at a time
/// so that no rows×V logits exist. NaN when every row is ignored. The loss
/// sum accumulates in double.
void lmHeadLoss(const float *x, const float *w, const int32_t *targets,
                float *loss, int64_t rows, int64_t C, int64_t V, float cap,
                int32_t ignoreIndex);

/// Gradients of lmHeadLoss (x [rows, C], w [V, C], targets int32 [rows]) for
/// the upstream gradient dloss[1]: with s the soft-capped logits and N the
/// number of rows not ignored, the logits' gradient
/// dz = dloss·(softmax(s) − onehot(target))·(1 − (s/cap)²)/N (0 on ignored
/// rows) gives dx[rows, C] = dz · w and dw[V, C] = dzᵀ · x, both
/// overwritten. dz is recomputed and consumed a chunk of rows at a time.
void lmHeadLossBackward(const float *x, const float *w, const int32_t *targets,
                        const float *dloss, float *dx, float *dw, int64_t rows,
                        int64_t C, int64_t V, float cap, int32_t ignoreIndex);

/// lmHeadLoss on bfloat16 inputs (`gptc compile --precision=bf16`): the
/// logits' products take x and w rounded to bfloat16 (ties to even) and sum
/// in float, as linearBf16's; the soft-cap and the loss stay float (sums in
/// double).
void lmHeadLossBf16(const float *x, const float *w, const int32_t *targets,
                    float *loss, int64_t rows, int64_t C, int64_t V, float cap,
                    int32_t ignoreIndex);

/// lmHeadLossBackward on bfloat16 inputs, as lmHeadLossBf16: the logits are
/// recomputed from x and w rounded to bfloat16, and dx = dz · w and
/// dw = dzᵀ · x take dz, w and x rounded to bfloat16, with float sums; dx
/// and dw float (overwritten).
void lmHeadLossBackwardBf16(const float *x, const float *w,
                            const int32_t *targets, const float *dloss,
                            float *dx, float *dw, int64_t rows, int64_t C,
                            int64_t V, float cap, int32_t ignoreIndex);

} // namespace gptc::cpu

#endif // GPTC_BACKENDS_CPU_KERNELS_H
