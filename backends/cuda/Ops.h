//===- Ops.h - the kernel-level operations on the GPU -----------*- C++ -*-===//
//
// The CUDA runtime's half of the kernel ABI: one function per kernel of
// backends/Kernels.def, declared from that list with exactly the signature
// and the semantics of its gptc::cpu twin, but every pointer is device
// memory and the work is queued on gptc's stream. Generated CUDA host code
// calls these; the implementations in backends/cuda/ops/ launch the
// single-source kernels of backends/cuda/kernels/ and cuBLASLt. How they
// differ from the CPU kernels:
//
// - linear, linearBackward: cuBLASLt GEMMs, fp32 inputs and accumulation;
//   the *Bf16 variants round x, w (and dy) to bfloat16 by a conversion
//   kernel into scratch buffers and run on the tensor cores, float sums.
// - causalAttention: FlashAttention-2's forward on bf16 tensor cores
//   (mma.sync m16n8k16, fp32 accumulation and softmax statistics); q, k, v
//   and the attention weights are rounded to bfloat16 for the products (o
//   errs by about 1e-3 of its magnitude against fp32). D must be one of
//   kAttentionHeadDims (any other D exits with an error), the pointers
//   16-byte aligned.
// - causalAttentionBackward: a pre-pass computes rowsum(dout∘o) (scratch
//   slot AttentionDelta) and zeroes dq; a block per key tile and kv head
//   recomputes P tile by tile, sums dk and dv over the group's query heads
//   in registers and adds its share of dq with fp32 atomics, so dq may
//   differ in the last bits from run to run.
// - embeddingBackward: without atomics, each thread owns some channels of a
//   range of ids and adds their positions in order, bitwise as on the CPU.
// - lmHeadLoss and its backward: a chunk of rows at a time, a cuBLASLt GEMM
//   then a kernel that soft-caps and reduces each row; the bf16 variants
//   round w once per call and each chunk of x (and dz) as it comes.
// - ropeAt, kvAppend, kvAdvance read the lengths on the device; kvAppend
//   leaves a row that would overflow (or has a negative length) unchanged
//   rather than writing out of bounds (the host checks the capacity first).
// - cachedAttention: split-KV (Flash-Decoding): a block serves up to 4
//   query rows of one (row, kv head), so a GQA group and a prefill chunk
//   share each K/V row read (float4 loads, fp32 online softmax); the keys
//   are cut into enough splits for about two blocks per SM of an H100, and
//   a second kernel merges the splits by their log-sum-exps (scratch slot
//   DecodePartials). Graph-capturable. D must satisfy
//   isDecodeHeadDimSupported, q and the caches 16-byte aligned.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_OPS_H
#define GPTC_BACKENDS_CUDA_OPS_H

#include "backends/cuda/Limits.h"

#include <cstdint>

namespace gptc::cuda {

#include "backends/KernelDeclarations.inc"

/// causalAttention and causalAttentionBackward through cuDNN 9's composite
/// SDPA graphs (--attention=cudnn): bf16 operands and results like gptc's
/// own kernels, fp32 statistics; planned once per shape for the GPU. cuDNN
/// decides which head dims it supports; an unsupported shape exits with
/// cuDNN's reason.
decltype(causalAttention) causalAttentionCudnn;
decltype(causalAttentionBackward) causalAttentionBackwardCudnn;

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_OPS_H
