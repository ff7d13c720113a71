//===- Workspace.h - scratch device buffers of the operations ---*- C++ -*-===//
//
// Device buffers that operations need only while they run (bf16 copies of
// GEMM operands, a chunk of logits, cuBLASLt's workspace, the partial
// results of split decode attention), one per slot. A slot grows when an
// operation asks for more than it holds and is kept for the rest of the
// process, so a steady state allocates nothing.
//
// Growing frees the old buffer (after the work queued on the stream that
// uses it) and allocates a new one, whose contents are undefined. That is
// not allowed while a CUDA graph is captured: the graph would keep the old
// address. The decode step is therefore run once before it is captured,
// which grows every slot it uses to its final size.
//
// A slot is shared by every operation that uses it: its contents are only
// meaningful within one operation, and the operations run one after the
// other on gptc's stream. Not thread-safe: the runtime queues work from one
// host thread.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_WORKSPACE_H
#define GPTC_BACKENDS_CUDA_WORKSPACE_H

#include <cstddef>

namespace gptc::cuda {

enum class Scratch {
  /// bf16 copies of the operands of linearBf16 and linearBackwardBf16, and
  /// of x's chunks (GemmA) and w (GemmB) in lmHeadLoss[Backward]Bf16.
  GemmA,
  GemmB,
  /// A chunk of the lm_head logits of lmHeadLoss[Backward], [chunk, V].
  Logits,
  /// Their gradient in lmHeadLossBackward, [chunk, V].
  LogitsGrad,
  /// Its bf16 copy in lmHeadLossBackwardBf16, [chunk, V].
  LogitsGradBf16,
  /// The per-row losses of crossEntropy and lmHeadLoss (double [rows]), or
  /// lmHeadLossBackward's gradient scale (float [1]).
  LossRows,
  /// cuBLASLt's workspace.
  BlasWorkspace,
  /// Split decode attention's per-split outputs and log-sum-exps.
  DecodePartials,
  /// The fused attention gradient's row sums rowsum(dO∘O).
  AttentionDelta,
  /// cuDNN attention: bf16 copies of its operands and results, softmax_sum
  /// and dQ_accum; and the execution plan's workspace.
  CudnnTensors,
  CudnnWorkspace,
  Count
};

/// The device buffer of `slot`, at least `bytes` long and 256-byte aligned.
/// Its contents are undefined after it grew; the pointer stays valid until
/// the slot grows again.
void *scratch(Scratch slot, size_t bytes);

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_WORKSPACE_H
