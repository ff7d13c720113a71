//===- SdpaGraph.cpp - cuDNN SDPA graphs as plain data --------------------===//
//
// The composite causal SDPA graphs (what cudnn-frontend's CompositeSDPANode
// and CompositeSDPABackwardNode lower to, minus dropout, bias and padding)
// and the structural checks shared by the descriptor builder and the
// interpreter.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/cudnn/SdpaGraph.h"

#include <limits>
#include <set>

namespace gptc::cuda::cudnn {

int64_t TensorSpec::elementCount() const {
  int64_t count = 1;
  for (int64_t dim : dims)
    count *= dim;
  return count;
}

int64_t TensorSpec::spanElements() const {
  int64_t last = 0;
  for (size_t k = 0; k < dims.size(); ++k)
    last += (dims[k] - 1) * strides[k];
  return last + 1;
}

const TensorSpec *GraphSpec::findTensor(int64_t uid) const {
  for (const TensorSpec &tensor : tensors)
    if (tensor.uid == uid)
      return &tensor;
  return nullptr;
}

OpSpec *GraphSpec::findOp(const std::string &opName) {
  for (OpSpec &op : ops)
    if (op.name == opName)
      return &op;
  return nullptr;
}

namespace {

/// Number of inputs an op of `kind` (and pointwise `mode`) takes.
size_t operandCount(OpKind kind, PointwiseMode mode) {
  switch (kind) {
  case OpKind::Matmul:
    return 2;
  case OpKind::Reduction:
  case OpKind::GenIndex:
  case OpKind::Reshape:
    return 1;
  case OpKind::Pointwise:
    break;
  }
  switch (mode) {
  case PointwiseMode::Exp:
  case PointwiseMode::Log:
  case PointwiseMode::Identity:
    return 1;
  case PointwiseMode::BinarySelect:
    return 3;
  default:
    return 2;
  }
}

Status verifyTensor(const GraphSpec &graph, const TensorSpec &tensor) {
  if (tensor.dims.empty() || tensor.dims.size() != tensor.strides.size())
    return Status::error("{}: tensor '{}' has {} dims and {} strides",
                         graph.name, tensor.name, tensor.dims.size(),
                         tensor.strides.size());
  for (size_t k = 0; k < tensor.dims.size(); ++k)
    if (tensor.dims[k] < 1 || tensor.strides[k] < 1)
      return Status::error("{}: tensor '{}' has dim {} of size {}, stride {}",
                           graph.name, tensor.name, k, tensor.dims[k],
                           tensor.strides[k]);
  if (tensor.isByValue &&
      (tensor.isVirtual || tensor.dataType != DataType::Float ||
       tensor.elementCount() != 1))
    return Status::error("{}: by-value tensor '{}' is not a non-virtual fp32 "
                         "scalar",
                         graph.name, tensor.name);
  return Status::success();
}

} // namespace

Status verifyGraph(const GraphSpec &graph) {
  std::set<int64_t> uids, written, read;
  for (const TensorSpec &tensor : graph.tensors) {
    if (!uids.insert(tensor.uid).second)
      return Status::error("{}: uid {} used twice", graph.name, tensor.uid);
    if (Status status = verifyTensor(graph, tensor); !status.ok())
      return status;
  }
  for (const OpSpec &op : graph.ops)
    written.insert(op.output);
  std::set<int64_t> ready;
  for (const TensorSpec &tensor : graph.tensors)
    if (!tensor.isVirtual && !written.count(tensor.uid))
      ready.insert(tensor.uid);
  for (const OpSpec &op : graph.ops) {
    if (op.inputs.size() != operandCount(op.kind, op.pointwise))
      return Status::error("{}: op '{}' has {} inputs, expected {}", graph.name,
                           op.name, op.inputs.size(),
                           operandCount(op.kind, op.pointwise));
    for (int64_t uid : op.inputs) {
      if (!uids.count(uid))
        return Status::error("{}: op '{}' reads unknown uid {}", graph.name,
                             op.name, uid);
      if (!ready.count(uid))
        return Status::error("{}: op '{}' reads '{}' before it is written",
                             graph.name, op.name, graph.findTensor(uid)->name);
      read.insert(uid);
    }
    const TensorSpec *output = graph.findTensor(op.output);
    if (!output)
      return Status::error("{}: op '{}' writes unknown uid {}", graph.name,
                           op.name, op.output);
    if (output->isByValue || !ready.insert(op.output).second)
      return Status::error("{}: op '{}' writes '{}', which is an input or "
                           "written by another op",
                           graph.name, op.name, output->name);
  }
  for (const TensorSpec &tensor : graph.tensors)
    if (tensor.isVirtual &&
        (!written.count(tensor.uid) || !read.count(tensor.uid)))
      return Status::error("{}: virtual tensor '{}' is never {}", graph.name,
                           tensor.name,
                           written.count(tensor.uid) ? "read" : "written");
  return Status::success();
}

namespace {

/// Row-major strides of `dims`.
std::vector<int64_t> packedStrides(const std::vector<int64_t> &dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (size_t k = dims.size() - 1; k > 0; --k)
    strides[k - 1] = strides[k] * dims[k];
  return strides;
}

/// Appends tensors and ops to a GraphSpec; each op function returns its
/// output's uid so graphs read like the formulas they compute.
class GraphBuilder {
public:
  explicit GraphBuilder(std::string name) { graph.name = std::move(name); }

  /// A non-virtual tensor with a caller-chosen uid.
  int64_t tensor(int64_t uid, std::string name, DataType dataType,
                 std::vector<int64_t> dims, std::vector<int64_t> strides) {
    graph.tensors.push_back(
        {uid, std::move(name), dataType, std::move(dims), std::move(strides)});
    return uid;
  }

  /// A by-value fp32 scalar.
  int64_t scalar(int64_t uid, std::string name, float value) {
    tensor(uid, std::move(name), DataType::Float, {1, 1, 1, 1}, {1, 1, 1, 1});
    graph.tensors.back().isByValue = true;
    graph.tensors.back().value = value;
    return uid;
  }

  /// A virtual tensor, packed row-major unless `strides` are given.
  int64_t virtualTensor(std::string name, DataType dataType,
                        std::vector<int64_t> dims,
                        std::vector<int64_t> strides = {}) {
    if (strides.empty())
      strides = packedStrides(dims);
    tensor(nextVirtualUid, std::move(name), dataType, std::move(dims),
           std::move(strides));
    graph.tensors.back().isVirtual = true;
    return nextVirtualUid++;
  }

  int64_t matmul(std::string name, int64_t a, int64_t b, int64_t c) {
    return addOp(OpKind::Matmul, std::move(name), {a, b}, c);
  }

  int64_t pointwise(std::string name, PointwiseMode mode,
                    std::vector<int64_t> inputs, int64_t y) {
    addOp(OpKind::Pointwise, std::move(name), std::move(inputs), y);
    graph.ops.back().pointwise = mode;
    return y;
  }

  int64_t reduction(std::string name, ReductionMode mode, int64_t x,
                    int64_t y) {
    addOp(OpKind::Reduction, std::move(name), {x}, y);
    graph.ops.back().reduction = mode;
    return y;
  }

  int64_t genIndex(std::string name, int64_t x, int64_t axis, int64_t y) {
    addOp(OpKind::GenIndex, std::move(name), {x}, y);
    graph.ops.back().axis = axis;
    return y;
  }

  int64_t reshape(std::string name, int64_t x, int64_t y) {
    return addOp(OpKind::Reshape, std::move(name), {x}, y);
  }

  GraphSpec finish() { return std::move(graph); }

private:
  int64_t addOp(OpKind kind, std::string name, std::vector<int64_t> inputs,
                int64_t output) {
    OpSpec op;
    op.kind = kind;
    op.name = std::move(name);
    op.inputs = std::move(inputs);
    op.output = output;
    graph.ops.push_back(std::move(op));
    return output;
  }

  GraphSpec graph;
  int64_t nextVirtualUid = kFirstVirtualUid;
};

/// The tensor shapes and views both SDPA graphs use.
struct SdpaLayout {
  SdpaLayout(int64_t B, int64_t H, int64_t Hkv, int64_t T, int64_t D)
      : B(B), H(H), Hkv(Hkv), T(T), D(D) {}

  /// q, o, do, dq: [B, T, H, D] memory viewed as [B, H, T, D].
  std::vector<int64_t> queryDims() const { return {B, H, T, D}; }
  std::vector<int64_t> queryStrides() const { return {T * H * D, D, H * D, 1}; }
  /// k, v, dk, dv: [B, T, Hkv, D] memory viewed as [B, Hkv, T, D].
  std::vector<int64_t> keyDims() const { return {B, Hkv, T, D}; }
  std::vector<int64_t> keyStrides() const {
    return {T * Hkv * D, D, Hkv * D, 1};
  }
  /// The same memory viewed as Kᵀ [B, Hkv, D, T].
  std::vector<int64_t> keyTransposedDims() const { return {B, Hkv, D, T}; }
  std::vector<int64_t> keyTransposedStrides() const {
    return {T * Hkv * D, D, 1, Hkv * D};
  }
  /// Scores and probabilities [B, H, T, T], and per-row values [B, H, T, 1].
  std::vector<int64_t> scoreDims() const { return {B, H, T, T}; }
  std::vector<int64_t> rowDims() const { return {B, H, T, 1}; }
  /// A [B, H, T, T] view of packed scores with the last two axes swapped.
  std::vector<int64_t> scoreTransposedStrides() const {
    return {H * T * T, T * T, 1, T};
  }

  int64_t B, H, Hkv, T, D;
};

/// Adds S = mask(scale · Q·Kᵀ) (−inf where key > query) to `graph` and
/// returns its uid; the ops both SDPA graphs start with.
int64_t maskedScores(GraphBuilder &graph, const SdpaLayout &layout, int64_t q,
                     int64_t kTransposed, int64_t scale) {
  const std::vector<int64_t> scores = layout.scoreDims();
  int64_t product =
      graph.matmul("q_kt", q, kTransposed,
                   graph.virtualTensor("scores", DataType::Float, scores));
  int64_t scaled = graph.pointwise(
      "scale", PointwiseMode::Mul, {product, scale},
      graph.virtualTensor("scaled_scores", DataType::Float, scores));
  int64_t row =
      graph.genIndex("row_index", scaled, 2,
                     graph.virtualTensor("row_index", DataType::Int32, scores));
  int64_t column = graph.genIndex(
      "column_index", scaled, 3,
      graph.virtualTensor("column_index", DataType::Int32, scores));
  int64_t visible = graph.pointwise(
      "causal_mask", PointwiseMode::CmpGe, {row, column},
      graph.virtualTensor("visible", DataType::Boolean, scores));
  int64_t negInf = graph.scalar(kUidNegInf, "neg_inf",
                                -std::numeric_limits<float>::infinity());
  return graph.pointwise(
      "apply_mask", PointwiseMode::BinarySelect, {scaled, negInf, visible},
      graph.virtualTensor("masked_scores", DataType::Float, scores));
}

} // namespace

GraphSpec sdpaForwardGraph(int64_t B, int64_t H, int64_t Hkv, int64_t T,
                           int64_t D, float scale) {
  const SdpaLayout layout(B, H, Hkv, T, D);
  GraphBuilder graph("sdpa_fwd");
  int64_t q = graph.tensor(kUidQ, "q", DataType::BFloat16, layout.queryDims(),
                           layout.queryStrides());
  int64_t kTransposed =
      graph.tensor(kUidK, "k_transposed", DataType::BFloat16,
                   layout.keyTransposedDims(), layout.keyTransposedStrides());
  int64_t v = graph.tensor(kUidV, "v", DataType::BFloat16, layout.keyDims(),
                           layout.keyStrides());
  int64_t o = graph.tensor(kUidO, "o", DataType::BFloat16, layout.queryDims(),
                           layout.queryStrides());
  int64_t stats = graph.tensor(kUidStats, "stats", DataType::Float,
                               layout.rowDims(), {H * T, T, 1, 1});
  int64_t scaleValue = graph.scalar(kUidScale, "scale", scale);

  const std::vector<int64_t> scores = layout.scoreDims(),
                             rows = layout.rowDims();
  int64_t masked = maskedScores(graph, layout, q, kTransposed, scaleValue);
  int64_t rowMax =
      graph.reduction("row_max", ReductionMode::Max, masked,
                      graph.virtualTensor("row_max", DataType::Float, rows));
  int64_t shifted = graph.pointwise(
      "sub_max", PointwiseMode::Sub, {masked, rowMax},
      graph.virtualTensor("shifted_scores", DataType::Float, scores));
  int64_t exps = graph.pointwise(
      "exp", PointwiseMode::Exp, {shifted},
      graph.virtualTensor("exp_scores", DataType::Float, scores));
  int64_t rowSum =
      graph.reduction("row_sum", ReductionMode::Add, exps,
                      graph.virtualTensor("row_sum", DataType::Float, rows));
  int64_t logSum = graph.pointwise(
      "log_sum", PointwiseMode::Log, {rowSum},
      graph.virtualTensor("log_row_sum", DataType::Float, rows));
  graph.pointwise("stats", PointwiseMode::Add, {rowMax, logSum}, stats);
  // P must have V's data type for the second matmul.
  int64_t probs =
      graph.pointwise("normalize", PointwiseMode::Div, {exps, rowSum},
                      graph.virtualTensor("probs", DataType::BFloat16, scores));
  graph.matmul("p_v", probs, v, o);
  return graph.finish();
}

GraphSpec sdpaBackwardGraph(int64_t B, int64_t H, int64_t Hkv, int64_t T,
                            int64_t D, float scale) {
  const SdpaLayout layout(B, H, Hkv, T, D);
  GraphBuilder graph("sdpa_bwd");
  const std::vector<int64_t> queryDims = layout.queryDims(),
                             queryStrides = layout.queryStrides(),
                             keyDims = layout.keyDims(),
                             keyStrides = layout.keyStrides(),
                             scores = layout.scoreDims(),
                             rows = layout.rowDims();
  int64_t q =
      graph.tensor(kUidQ, "q", DataType::BFloat16, queryDims, queryStrides);
  int64_t kTransposed =
      graph.tensor(kUidK, "k_transposed", DataType::BFloat16,
                   layout.keyTransposedDims(), layout.keyTransposedStrides());
  int64_t vTransposed =
      graph.tensor(kUidV, "v_transposed", DataType::BFloat16,
                   layout.keyTransposedDims(), layout.keyTransposedStrides());
  int64_t o =
      graph.tensor(kUidO, "o", DataType::BFloat16, queryDims, queryStrides);
  int64_t dO =
      graph.tensor(kUidDO, "do", DataType::BFloat16, queryDims, queryStrides);
  int64_t stats =
      graph.tensor(kUidStats, "stats", DataType::Float, rows, {H * T, T, 1, 1});
  int64_t dQ =
      graph.tensor(kUidDQ, "dq", DataType::BFloat16, queryDims, queryStrides);
  int64_t dK =
      graph.tensor(kUidDK, "dk", DataType::BFloat16, keyDims, keyStrides);
  int64_t dV =
      graph.tensor(kUidDV, "dv", DataType::BFloat16, keyDims, keyStrides);
  int64_t softmaxSum = graph.tensor(kUidSoftmaxSum, "softmax_sum",
                                    DataType::Float, rows, {H * T, T, 1, 1});
  int64_t dQAccum = graph.tensor(kUidDQAccum, "dq_accum", DataType::Float,
                                 queryDims, {H * T * D, T * D, D, 1});
  int64_t scaleValue = graph.scalar(kUidScale, "scale", scale);
  int64_t one = graph.scalar(kUidOne, "one", 1.0f);

  // softmax_sum = Σ_d dO·O, the Δ of FlashAttention-2's backward.
  int64_t dOTimesO =
      graph.pointwise("do_o", PointwiseMode::Mul, {dO, o},
                      graph.virtualTensor("do_o", DataType::Float, queryDims));
  int64_t dOTimesOSum =
      graph.reduction("sum_do_o", ReductionMode::Add, dOTimesO,
                      graph.virtualTensor("do_o_sum", DataType::Float, rows));
  graph.pointwise("softmax_sum", PointwiseMode::Mul, {dOTimesOSum, one},
                  softmaxSum);

  // P = exp(S − Stats), recomputed.
  int64_t masked = maskedScores(graph, layout, q, kTransposed, scaleValue);
  int64_t shifted = graph.pointwise(
      "sub_stats", PointwiseMode::Sub, {masked, stats},
      graph.virtualTensor("shifted_scores", DataType::Float, scores));
  int64_t probs =
      graph.pointwise("exp", PointwiseMode::Exp, {shifted},
                      graph.virtualTensor("probs", DataType::Float, scores));

  // With GQA the per-query-head gradients of k and v are summed over each
  // group of H / Hkv heads by a reduction.
  const bool grouped = H != Hkv;
  auto perQueryHead = [&](const char *name, int64_t output) {
    return grouped ? graph.virtualTensor(name, DataType::BFloat16, queryDims)
                   : output;
  };

  // dV = Pᵀ·dO.
  int64_t probsTransposed = graph.reshape(
      "transpose_probs", probs,
      graph.virtualTensor("probs_transposed", DataType::BFloat16, scores,
                          layout.scoreTransposedStrides()));
  int64_t dVHeads = graph.matmul("pt_do", probsTransposed, dO,
                                 perQueryHead("dv_per_query_head", dV));

  // dS = (dO·Vᵀ − softmax_sum) · P · scale.
  int64_t dP = graph.matmul("do_vt", dO, vTransposed,
                            graph.virtualTensor("dp", DataType::Float, scores));
  int64_t dPShifted = graph.pointwise(
      "sub_softmax_sum", PointwiseMode::Sub, {dP, softmaxSum},
      graph.virtualTensor("dp_shifted", DataType::Float, scores));
  int64_t dSUnscaled = graph.pointwise(
      "mul_probs", PointwiseMode::Mul, {dPShifted, probs},
      graph.virtualTensor("ds_unscaled", DataType::Float, scores));
  int64_t dS =
      graph.pointwise("scale_ds", PointwiseMode::Mul, {dSUnscaled, scaleValue},
                      graph.virtualTensor("ds", DataType::BFloat16, scores));

  // dK = dSᵀ·Q.
  int64_t dSTransposed = graph.reshape(
      "transpose_ds", dS,
      graph.virtualTensor("ds_transposed", DataType::BFloat16, scores,
                          layout.scoreTransposedStrides()));
  int64_t dKHeads = graph.matmul("dst_q", dSTransposed, q,
                                 perQueryHead("dk_per_query_head", dK));

  // dQ = dS·K, accumulated in fp32.
  int64_t k = graph.reshape(
      "transpose_kt", kTransposed,
      graph.virtualTensor("k", DataType::BFloat16, keyDims, keyStrides));
  graph.matmul("ds_k", dS, k, dQAccum);
  graph.pointwise("dq", PointwiseMode::Identity, {dQAccum}, dQ);

  if (grouped) {
    graph.reduction("sum_dk_heads", ReductionMode::Add, dKHeads, dK);
    graph.reduction("sum_dv_heads", ReductionMode::Add, dVHeads, dV);
  }
  return graph.finish();
}

} // namespace gptc::cuda::cudnn
