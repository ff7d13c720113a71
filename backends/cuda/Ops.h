//===- Ops.h - the kernel-level operations on the GPU -----------*- C++ -*-===//
//
// The CUDA runtime's half of the kernel ABI: one function per kernel-level
// op, with exactly the signature of its gptc::cpu twin (backends/cpu/
// Kernels.h, DecodeKernels.h) and the same semantics, but every pointer is
// device memory and the work is queued on gptc's stream. Generated CUDA host
// code calls these; the implementations in backends/cuda/ops/ launch the
// single-source kernels of backends/cuda/kernels/ and cuBLASLt.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_OPS_H
#define GPTC_BACKENDS_CUDA_OPS_H

#include <cstdint>

namespace gptc::cuda {

/// y[rows, out] = x[rows, in] · w[out, in]ᵀ (nn.Linear without bias): one
/// cuBLASLt GEMM, fp32 inputs and accumulation.
void linear(const float *x, const float *w, float *y, int64_t rows, int64_t in,
            int64_t out);

/// linear on bfloat16 inputs (`gptc compile --precision=bf16`): x and w
/// rounded to bfloat16 (ties to even) by a conversion kernel into scratch
/// buffers, then one cuBLASLt GEMM on the tensor cores: their products
/// (exact in float) summed in float, y float.
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

/// Fused causal attention, FlashAttention-2's forward on bf16 tensor cores
/// (mma.sync m16n8k16, fp32 accumulation; online softmax over key tiles, no
/// T×T matrix). q [B, T, H, D], k and v [B, T, Hkv, D], query head h reads
/// kv head h / (H / Hkv) (no copies of K/V). Writes o [B, T, H, D] and
/// lse [B, H, T], the natural-log log-sum-exp of each query row's scaled
/// scores. Scores are scale · q·k; key j is visible to query i iff j <= i.
/// q, k, v and the attention weights are rounded to bfloat16 for the
/// products (o errs by about 1e-3 of its magnitude against fp32); the
/// softmax statistics are fp32. D must be 16, 32, 64 or 128 (any other D
/// exits with an error) and the pointers 16-byte aligned.
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

/// y[n] = value.
void fill(float *y, int64_t n, float value);

/// Gradient of embedding: dtable[V, C] = 0, then dtable[ids[p], :] +=
/// dy[p, :] for p < n in order of p, with dy [n, C] and ids (int32 [n]) in
/// [0, V). Without atomics: each thread owns some channels of a range of ids
/// and adds their positions in order of p, so every element is summed in
/// the same order as by the CPU kernel, bitwise reproducibly.
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
/// overwritten, by two cuBLASLt GEMMs in fp32.
void linearBackward(const float *dy, const float *x, const float *w, float *dx,
                    float *dw, int64_t rows, int64_t in, int64_t out);

/// linearBackward on bfloat16 inputs, as linearBf16: dy, x and w rounded to
/// bfloat16 (ties to even), their products summed in float by cuBLASLt, dx
/// and dw float (overwritten).
void linearBackwardBf16(const float *dy, const float *x, const float *w,
                        float *dx, float *dw, int64_t rows, int64_t in,
                        int64_t out);

/// Gradients of causalAttention (FlashAttention-2 backward, on bf16 tensor
/// cores like the forward) with its layouts: q, o, dout and dq
/// [B, T, H, D]; k, v, dk and dv [B, T, Hkv, D]; lse [B, H, T] as the
/// forward wrote it; all three gradients overwritten. A pre-pass computes
/// rowsum(dout∘o) (scratch slot AttentionDelta) and zeroes dq; then a block
/// per key tile and kv head recomputes the attention weights tile by tile
/// as P = exp(scale·q·k − lse) (no T×T matrix), sums dk and dv over the
/// H / Hkv query heads of the group in registers (no atomics) and adds its
/// share of dq with fp32 atomics, so dq may differ in the last bits from
/// run to run. q, k, v, dout, P and dS are rounded to bfloat16 for the
/// products. D and the pointers as for causalAttention.
void causalAttentionBackward(const float *q, const float *k, const float *v,
                             const float *o, const float *lse,
                             const float *dout, float *dq, float *dk, float *dv,
                             int64_t B, int64_t T, int64_t H, int64_t Hkv,
                             int64_t D, float scale);

/// causalAttention and causalAttentionBackward through cuDNN 9's composite
/// SDPA graphs (--attention=cudnn): bf16 operands and results like gptc's
/// own kernels, fp32 statistics; planned once per shape for the GPU. cuDNN
/// decides which head dims it supports; an unsupported shape exits with
/// cuDNN's reason.
void causalAttentionCudnn(const float *q, const float *k, const float *v,
                          float *o, float *lse, int64_t B, int64_t T, int64_t H,
                          int64_t Hkv, int64_t D, float scale);
void causalAttentionBackwardCudnn(const float *q, const float *k,
                                  const float *v, const float *o,
                                  const float *lse, const float *dout,
                                  float *dq, float *dk, float *dv, int64_t B,
                                  int64_t T, int64_t H, int64_t Hkv, int64_t D,
                                  float scale);

/// Fused lm_head, soft-cap and cross-entropy: loss[1] = crossEntropy of the
/// logits cap·tanh(x[rows, C] · w[V, C]ᵀ / cap) against targets (int32
/// [rows], each in [0, V) or ignoreIndex), computed a chunk of rows at a time
/// (a cuBLASLt GEMM, then a kernel that soft-caps and reduces each row) so
/// that no rows×V logits exist. NaN when every row is ignored. The loss
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

/// lmHeadLoss on bfloat16 inputs (`gptc compile --precision=bf16`): w is
/// rounded to bfloat16 (ties to even) once per call and each chunk of x as
/// it comes, by the conversion kernel into scratch buffers, and the chunk's
/// logits are one cuBLASLt GEMM on the tensor cores (products summed in
/// float), as in linearBf16; the soft-cap and the loss stay float.
void lmHeadLossBf16(const float *x, const float *w, const int32_t *targets,
                    float *loss, int64_t rows, int64_t C, int64_t V, float cap,
                    int32_t ignoreIndex);

/// lmHeadLossBackward on bfloat16 inputs, as lmHeadLossBf16: the logits are
/// recomputed from x and w rounded to bfloat16, and each chunk's dz is
/// rounded to bfloat16 for dx = dz · w and dw = dzᵀ · x (float sums); dx and
/// dw float (overwritten).
void lmHeadLossBackwardBf16(const float *x, const float *w,
                            const int32_t *targets, const float *dloss,
                            float *dx, float *dw, int64_t rows, int64_t C,
                            int64_t V, float cap, int32_t ignoreIndex);

/// y[R, T, H, D] = rope(x) with row r's token t at position
/// positions[r] + t (nanochat's half-split rotation, as `rope`): rope's
/// kernel, reading the positions on the device. cos and sin of each angle
/// are computed in float32 (the device's sincosf, within an ulp or two of
/// the CPU's).
void ropeAt(const float *x, const int32_t *positions, float *y, int64_t R,
            int64_t T, int64_t H, int64_t D, float base, int32_t roundBf16);

/// Writes entries [R, T, Hkv, D] into layer `layer` of cache
/// [L, R, Cap, Hkv, D] at slots lengths[r] .. lengths[r] + T − 1, one
/// thread per element, reading the lengths on the device. The host checks
/// the capacity first; a row that would overflow anyway (or has a negative
/// length) is left unchanged rather than written out of bounds.
void kvAppend(const int32_t *lengths, const float *entries, float *cache,
              int64_t L, int64_t R, int64_t Cap, int64_t Hkv, int64_t D,
              int64_t T, int32_t layer);

/// out[R, T, H, D]: query t of row r (q [R, T, H, D]) attends over slots
/// 0 .. lengths[r] + t of layer `layer` of the caches (the chunk's own
/// keys included), softmax(scale · q·k) · v. Query head h reads key/value
/// head h / (H / Hkv). Split-KV (Flash-Decoding): a block serves up to 4
/// query rows (query head, token) of one (row, kv head), so the heads of a
/// GQA group and the tokens of a prefill chunk share each K/V row read
/// (float4 loads, fp32 online softmax); the keys are cut into enough splits
/// for about two blocks per SM of an H100 (each at least 64 keys, their
/// number fixed by the shapes and Cap, their bounds by the lengths on the
/// device), and a second kernel merges the splits' partial outputs by their
/// log-sum-exps, kept in the DecodePartials scratch. Graph-capturable: no
/// host copies, the same launches and scratch size for the same shapes.
/// Needs D a multiple of 4 and at most 256 (exits with a message
/// otherwise), and q and the caches 16-byte aligned.
void cachedAttention(const float *q, const float *kCache, const float *vCache,
                     const int32_t *lengths, float *out, int64_t L, int64_t R,
                     int64_t Cap, int64_t Hkv, int64_t D, int64_t T, int64_t H,
                     int32_t layer, float scale);

/// kvAppend and cachedAttention over a bfloat16 cache (the bits, as
/// uint16_t): entries are rounded to nearest even when written, widened
/// exactly in registers when read (four per 8-byte load); the arithmetic
/// stays float32.
void kvAppendBf16(const int32_t *lengths, const float *entries, uint16_t *cache,
                  int64_t L, int64_t R, int64_t Cap, int64_t Hkv, int64_t D,
                  int64_t T, int32_t layer);

void cachedAttentionBf16(const float *q, const uint16_t *kCache,
                         const uint16_t *vCache, const int32_t *lengths,
                         float *out, int64_t L, int64_t R, int64_t Cap,
                         int64_t Hkv, int64_t D, int64_t T, int64_t H,
                         int32_t layer, float scale);

/// lengths[R] += by, on the device.
void kvAdvance(int32_t *lengths, int64_t R, int32_t by);

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_OPS_H
