//===- SdpaGraph.h - cuDNN SDPA graphs as plain data ------------*- C++ -*-===//
//
// gptc's cuDNN attention path. cuDNN 9.19 has no causal single-op SDPA (the
// "unified" SDPA node gets left/right bounds only in 9.21) and there is no
// cudnn-frontend here, so causal SDPA is the composite operation graph that
// cudnn-frontend lowers to, built through the backend C API (cudnn_graph.h).
// cuDNN checks such a graph's structure (data types, broadcast shapes) but
// not its meaning: an anti-causal mask or a dropped −Stats still compiles.
//
// So each graph is described once, here, as an op-graph spec (GraphSpec:
// tensors with uid, data type, dims, strides; matmul, pointwise, reduction,
// gen_index and reshape ops), and the spec has two consumers:
//  * CudnnGraph.h turns it into backend descriptors, engine configs and an
//    execution plan, and runs the plan on a GPU. On a machine without one it
//    can still plan "deviceless" for a device described in JSON, which checks
//    that cuDNN accepts the graph and has engines for it.
//  * GraphInterpreter.h evaluates it on the host with the spec's own dims,
//    strides, broadcasts and data types, so a test can compare it with a
//    plain attention reference and catch a graph that computes the wrong
//    thing.
//
// Layouts (llm.c letters): q, o, do, dq are [B, T, H, D] in memory and
// k, v, dk, dv [B, T, Hkv, D] (H % Hkv == 0; query head h reads kv head
// h / (H / Hkv)); the graphs view them as [B, H, T, D] / [B, Hkv, T, D]
// through strides, so nothing is transposed in memory. Stats is the
// natural-log log-sum-exp of each query row, fp32 [B, H, T, 1] (the
// layout of the CPU backend's lse [B, H, T]).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_CUDNN_SDPAGRAPH_H
#define GPTC_BACKENDS_CUDA_CUDNN_SDPAGRAPH_H

#include "backends/common/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gptc::cuda::cudnn {

enum class DataType { Float, BFloat16, Int32, Boolean };

/// One tensor of an op graph, with the attributes of a cuDNN tensor
/// descriptor. Element [i0, i1, ...] lives at offset Σ ik·strides[k]
/// (in elements) from the tensor's base pointer.
struct TensorSpec {
  int64_t uid = 0;
  std::string name;
  DataType dataType = DataType::Float;
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;
  /// Exists only inside the fused kernel; never bound to memory.
  bool isVirtual = false;
  /// A host scalar passed at execution time; `value` is that scalar.
  bool isByValue = false;
  float value = 0.0f;

  int64_t elementCount() const;
  /// Elements from the first to the last one addressed, inclusive: the
  /// size of the memory a buffer bound to this tensor must have.
  int64_t spanElements() const;
};

enum class OpKind {
  /// C[..., M, N] = A[..., M, K] · B[..., K, N]; a batch dim of A or B may
  /// divide C's (a group of consecutive C indices shares one A/B index:
  /// this is how GQA's kv heads are shared).
  Matmul,
  /// Y = mode(X[, B[, T]]) elementwise; an input dim of 1 broadcasts.
  Pointwise,
  /// Y = reduction of X over the dims where Y is smaller; a Y dim may also
  /// divide X's (each Y index sums a group of consecutive X indices).
  Reduction,
  /// Y (int32) = the index of each element of X along `axis`.
  GenIndex,
  /// Y = X reinterpreted in place: Y's element at memory offset o is X's
  /// element at offset o (a transposed view when only the strides change),
  /// converted to Y's data type.
  Reshape,
};

enum class PointwiseMode {
  Add,
  Sub,
  Mul,
  Div,
  Exp,
  Log,
  /// Y = X >= B (Boolean).
  CmpGe,
  /// Y = X < B (Boolean).
  CmpLt,
  /// Y = T ? X : B.
  BinarySelect,
  Identity,
};

enum class ReductionMode { Add, Max };

/// One operation. Inputs are uids: Matmul {A, B}; Pointwise {X}, {X, B} or
/// {X, B, T} by mode; Reduction, GenIndex and Reshape {X}.
struct OpSpec {
  OpKind kind = OpKind::Pointwise;
  std::string name;
  PointwiseMode pointwise = PointwiseMode::Identity;
  ReductionMode reduction = ReductionMode::Add;
  int64_t axis = 0;
  std::vector<int64_t> inputs;
  int64_t output = 0;
};

/// An operation graph. Ops are listed in an order in which they can run.
struct GraphSpec {
  std::string name;
  std::vector<TensorSpec> tensors;
  std::vector<OpSpec> ops;

  /// The tensor with `uid`, or nullptr.
  const TensorSpec *findTensor(int64_t uid) const;
  /// The op named `opName`, or nullptr.
  OpSpec *findOp(const std::string &opName);
};

/// Checks what both consumers rely on: unique uids, dims and strides of
/// one rank and positive, by-value tensors are one-element fp32 non-virtual
/// inputs, every op has the operand count OpSpec lists, of known tensors,
/// every tensor is written by at most one op and read only after it is
/// written (or is a graph input: non-virtual and written by no op), and no
/// virtual tensor is left unread or unwritten.
Status verifyGraph(const GraphSpec &graph);

/// The uids of the tensors an SDPA graph exchanges with its caller; the
/// execute call binds device pointers to these. K and V are bound to the
/// [B, T, Hkv, D] buffers whatever view of them a graph takes.
enum SdpaUid : int64_t {
  kUidQ = 1,
  kUidK,
  kUidV,
  kUidO,
  kUidStats,
  kUidDO,
  kUidDQ,
  kUidDK,
  kUidDV,
  /// Backward workspace: Σ_d dO·O per query row, fp32 [B, H, T, 1].
  kUidSoftmaxSum,
  /// Backward workspace: dQ accumulated in fp32, [B, H, T, D] packed.
  kUidDQAccum,
  /// The by-value scalars: the softmax scale, −inf for masked scores, 1.
  kUidScale,
  kUidNegInf,
  kUidOne,
  /// Virtual tensors are numbered from here.
  kFirstVirtualUid = 100,
};

/// Causal SDPA forward, 14 ops: S = scale · Q·Kᵀ, masked to −inf above the
/// diagonal (key j visible to query i iff j <= i), Stats = rowmax +
/// log(rowsum(exp(S − rowmax))), P = exp(S − rowmax) / rowsum rounded to
/// bf16, O = P·V. Inputs q, k, v bf16; outputs o bf16 and Stats fp32.
GraphSpec sdpaForwardGraph(int64_t B, int64_t H, int64_t Hkv, int64_t T,
                           int64_t D, float scale);

/// Causal SDPA backward, 22 ops (24 with GQA): softmax_sum = Σ_d dO·O,
/// P = exp(masked scale·Q·Kᵀ − Stats), dV = Pᵀ·dO, dS = (dO·Vᵀ −
/// softmax_sum)·P·scale (bf16), dK = dSᵀ·Q, dQ = dS·K through the fp32
/// dQ_accum; with H > Hkv, dK and dV are computed per query head (bf16) and
/// summed over each group. Inputs q, k, v, o, do bf16 and Stats fp32;
/// outputs dq, dk, dv bf16 and the workspaces softmax_sum and dQ_accum.
GraphSpec sdpaBackwardGraph(int64_t B, int64_t H, int64_t Hkv, int64_t T,
                            int64_t D, float scale);

} // namespace gptc::cuda::cudnn

#endif // GPTC_BACKENDS_CUDA_CUDNN_SDPAGRAPH_H
