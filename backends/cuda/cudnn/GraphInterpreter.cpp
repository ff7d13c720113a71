//===- GraphInterpreter.cpp - run an op-graph spec on the host ------------===//
//
// Each tensor's values live in a vector of doubles indexed by memory offset
// (element [i0, i1, ...] at Σ ik·strides[k]), so strided views and
// reshapes mean what they mean on the GPU. An op checks its operands'
// shapes and data types, then loops over its output's (or, for a
// reduction, its input's) index space.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/cudnn/GraphInterpreter.h"

#include "backends/common/BFloat16.h"

#include <cmath>
#include <limits>
#include <set>

namespace gptc::cuda::cudnn {
namespace {

using Index = std::vector<int64_t>;

/// Calls visit(index) for every index of `dims`, in row-major order.
template <typename Visit> void forEachIndex(const Index &dims, Visit visit) {
  int64_t count = 1;
  for (int64_t dim : dims)
    count *= dim;
  Index index(dims.size(), 0);
  for (int64_t n = 0; n < count; ++n) {
    visit(static_cast<const Index &>(index));
    for (size_t k = dims.size(); k-- > 0;) {
      if (++index[k] < dims[k])
        break;
      index[k] = 0;
    }
  }
}

int64_t offsetOf(const TensorSpec &tensor, const Index &index) {
  int64_t offset = 0;
  for (size_t k = 0; k < index.size(); ++k)
    offset += index[k] * tensor.strides[k];
  return offset;
}

/// The offset in `tensor` of the element read for index `index` of a larger
/// index space `dims`: along each axis, dims[k] / tensor.dims[k]
/// consecutive indices share one element of `tensor` (all of them when its
/// dim is 1, i.e. broadcasting).
int64_t groupedOffset(const TensorSpec &tensor, const Index &dims,
                      const Index &index) {
  int64_t offset = 0;
  for (size_t k = 0; k < index.size(); ++k)
    offset += index[k] / (dims[k] / tensor.dims[k]) * tensor.strides[k];
  return offset;
}

/// Whether each of `tensor`'s dims equals dims[k], or is 1, or (with
/// `grouped`) divides dims[k].
bool spreadsTo(const TensorSpec &tensor, const Index &dims, bool grouped) {
  if (tensor.dims.size() != dims.size())
    return false;
  for (size_t k = 0; k < dims.size(); ++k) {
    bool fits = tensor.dims[k] == dims[k] || tensor.dims[k] == 1 ||
                (grouped && dims[k] % tensor.dims[k] == 0);
    if (!fits)
      return false;
  }
  return true;
}

/// `value` as a tensor of `type` holds it.
double roundTo(DataType type, double value) {
  switch (type) {
  case DataType::Float:
    return static_cast<float>(value);
  case DataType::BFloat16:
    return bf16ToF32(f32ToBf16(static_cast<float>(value)));
  case DataType::Int32:
    return std::trunc(value);
  case DataType::Boolean:
    return value != 0.0 ? 1.0 : 0.0;
  }
  return value;
}

double applyPointwise(PointwiseMode mode, double x, double b, double t) {
  switch (mode) {
  case PointwiseMode::Add:
    return x + b;
  case PointwiseMode::Sub:
    return x - b;
  case PointwiseMode::Mul:
    return x * b;
  case PointwiseMode::Div:
    return x / b;
  case PointwiseMode::Exp:
    return std::exp(x);
  case PointwiseMode::Log:
    return std::log(x);
  case PointwiseMode::CmpGe:
    return x >= b ? 1.0 : 0.0;
  case PointwiseMode::CmpLt:
    return x < b ? 1.0 : 0.0;
  case PointwiseMode::BinarySelect:
    return t != 0.0 ? x : b;
  case PointwiseMode::Identity:
    return x;
  }
  return x;
}

/// Evaluates a verified graph, one op at a time.
class Interpreter {
public:
  explicit Interpreter(const GraphSpec &graph) : graph(graph) {
    for (const OpSpec &op : graph.ops)
      produced.insert(op.output);
  }

  Status run(const HostBuffers &buffers) {
    for (const TensorSpec &tensor : graph.tensors)
      if (Status status = checkTensor(tensor, buffers); !status.ok())
        return status;
    for (const TensorSpec &tensor : graph.tensors)
      load(tensor, buffers);
    for (const OpSpec &op : graph.ops)
      if (Status status = evaluate(op); !status.ok())
        return status;
    for (const TensorSpec &tensor : graph.tensors)
      if (!tensor.isVirtual && produced.count(tensor.uid))
        store(tensor, buffers.at(tensor.uid));
    return Status::success();
  }

private:
  /// Fails when two elements of `tensor` share an address, or when it
  /// needs a buffer and has none.
  Status checkTensor(const TensorSpec &tensor,
                     const HostBuffers &buffers) const {
    std::vector<bool> used(tensor.spanElements(), false);
    bool overlap = false;
    forEachIndex(tensor.dims, [&](const Index &index) {
      int64_t offset = offsetOf(tensor, index);
      overlap |= used[offset];
      used[offset] = true;
    });
    if (overlap)
      return Status::error("{}: tensor '{}' maps two elements to one address",
                           graph.name, tensor.name);
    if (!tensor.isVirtual && !tensor.isByValue && !buffers.count(tensor.uid))
      return Status::error("{}: no buffer for tensor '{}' (uid {})", graph.name,
                           tensor.name, tensor.uid);
    return Status::success();
  }

  /// Sets up `tensor`'s values: its scalar, its buffer's contents for a
  /// graph input, zeros for the ops to overwrite otherwise.
  void load(const TensorSpec &tensor, const HostBuffers &buffers) {
    std::vector<double> &data = values[tensor.uid];
    data.assign(tensor.spanElements(), 0.0);
    if (tensor.isByValue) {
      data[0] = tensor.value;
    } else if (!tensor.isVirtual && !produced.count(tensor.uid)) {
      const float *buffer = buffers.at(tensor.uid);
      forEachIndex(tensor.dims, [&](const Index &index) {
        int64_t offset = offsetOf(tensor, index);
        data[offset] = roundTo(tensor.dataType, buffer[offset]);
      });
    }
  }

  void store(const TensorSpec &tensor, float *buffer) {
    const std::vector<double> &data = values[tensor.uid];
    forEachIndex(tensor.dims, [&](const Index &index) {
      int64_t offset = offsetOf(tensor, index);
      buffer[offset] = static_cast<float>(data[offset]);
    });
  }

  Status evaluate(const OpSpec &op) {
    std::vector<const TensorSpec *> inputs;
    for (int64_t uid : op.inputs)
      inputs.push_back(graph.findTensor(uid));
    const TensorSpec &output = *graph.findTensor(op.output);
    switch (op.kind) {
    case OpKind::Matmul:
      return matmul(op, *inputs[0], *inputs[1], output);
    case OpKind::Pointwise:
      return pointwise(op, inputs, output);
    case OpKind::Reduction:
      return reduction(op, *inputs[0], output);
    case OpKind::GenIndex:
      return genIndex(op, *inputs[0], output);
    case OpKind::Reshape:
      return reshape(op, *inputs[0], output);
    }
    return Status::success();
  }

  Status shapeError(const OpSpec &op, const char *problem) const {
    return Status::error("{}: op '{}': {}", graph.name, op.name, problem);
  }

  Status matmul(const OpSpec &op, const TensorSpec &a, const TensorSpec &b,
                const TensorSpec &c) {
    const size_t rank = c.dims.size();
    if (rank < 2 || a.dims.size() != rank || b.dims.size() != rank)
      return shapeError(op, "A, B and C must have one rank of at least 2");
    if (a.dataType != b.dataType)
      return shapeError(op, "A and B must have the same data type");
    const int64_t rows = c.dims[rank - 2], columns = c.dims[rank - 1],
                  inner = a.dims[rank - 1];
    if (a.dims[rank - 2] != rows || b.dims[rank - 2] != inner ||
        b.dims[rank - 1] != columns)
      return shapeError(op, "A [.., M, K], B [.., K, N], C [.., M, N] differ");
    // A is read over the index space [batch.., M, K] and B over
    // [batch.., K, N], with C's batch dims; for C's index [b.., m, n], the
    // grouped offsets of [b.., m, 0] and [b.., 0, n] start A's row m and
    // B's column n.
    Index spreadA = c.dims, spreadB = c.dims;
    spreadA[rank - 1] = inner;
    spreadB[rank - 2] = inner;
    if (!spreadsTo(a, spreadA, true) || !spreadsTo(b, spreadB, true))
      return shapeError(op, "a batch dim of A or B does not divide C's");
    const std::vector<double> &aData = values[a.uid], &bData = values[b.uid];
    std::vector<double> &cData = values[c.uid];
    forEachIndex(c.dims, [&](const Index &index) {
      Index rowIndex = index, columnIndex = index;
      rowIndex[rank - 1] = 0;
      columnIndex[rank - 2] = 0;
      int64_t aOffset = groupedOffset(a, spreadA, rowIndex);
      int64_t bOffset = groupedOffset(b, spreadB, columnIndex);
      double sum = 0.0;
      for (int64_t k = 0; k < inner; ++k)
        sum += aData[aOffset + k * a.strides[rank - 1]] *
               bData[bOffset + k * b.strides[rank - 2]];
      cData[offsetOf(c, index)] = roundTo(c.dataType, sum);
    });
    return Status::success();
  }

  Status pointwise(const OpSpec &op,
                   const std::vector<const TensorSpec *> &inputs,
                   const TensorSpec &y) {
    for (const TensorSpec *input : inputs)
      if (!spreadsTo(*input, y.dims, false))
        return shapeError(op, "an input dim is neither Y's nor 1");
    std::vector<double> &yData = values[y.uid];
    forEachIndex(y.dims, [&](const Index &index) {
      double operands[3] = {0.0, 0.0, 0.0};
      for (size_t i = 0; i < inputs.size(); ++i)
        operands[i] =
            values[inputs[i]->uid][groupedOffset(*inputs[i], y.dims, index)];
      yData[offsetOf(y, index)] =
          roundTo(y.dataType, applyPointwise(op.pointwise, operands[0],
                                             operands[1], operands[2]));
    });
    return Status::success();
  }

  Status reduction(const OpSpec &op, const TensorSpec &x, const TensorSpec &y) {
    if (!spreadsTo(y, x.dims, true))
      return shapeError(op, "a dim of Y does not divide X's");
    const bool isMax = op.reduction == ReductionMode::Max;
    std::vector<double> &yData = values[y.uid];
    forEachIndex(y.dims, [&](const Index &index) {
      yData[offsetOf(y, index)] =
          isMax ? -std::numeric_limits<double>::infinity() : 0.0;
    });
    const std::vector<double> &xData = values[x.uid];
    forEachIndex(x.dims, [&](const Index &index) {
      double &target = yData[groupedOffset(y, x.dims, index)];
      double value = xData[offsetOf(x, index)];
      target = isMax ? std::fmax(target, value) : target + value;
    });
    forEachIndex(y.dims, [&](const Index &index) {
      double &target = yData[offsetOf(y, index)];
      target = roundTo(y.dataType, target);
    });
    return Status::success();
  }

  Status genIndex(const OpSpec &op, const TensorSpec &x, const TensorSpec &y) {
    if (y.dims != x.dims)
      return shapeError(op, "Y's dims differ from X's");
    if (op.axis < 0 || op.axis >= static_cast<int64_t>(y.dims.size()))
      return shapeError(op, "the axis is not one of X's");
    std::vector<double> &yData = values[y.uid];
    forEachIndex(y.dims, [&](const Index &index) {
      yData[offsetOf(y, index)] = roundTo(y.dataType, index[op.axis]);
    });
    return Status::success();
  }

  Status reshape(const OpSpec &op, const TensorSpec &x, const TensorSpec &y) {
    // Layouts are injective (checkTensor), so a span equal to the element
    // count means the tensor covers its memory exactly.
    const int64_t count = x.elementCount();
    if (y.elementCount() != count || x.spanElements() != count ||
        y.spanElements() != count)
      return shapeError(op, "X and Y must cover the same memory densely");
    const std::vector<double> &xData = values[x.uid];
    std::vector<double> &yData = values[y.uid];
    for (int64_t offset = 0; offset < count; ++offset)
      yData[offset] = roundTo(y.dataType, xData[offset]);
    return Status::success();
  }

  const GraphSpec &graph;
  /// The tensors some op writes.
  std::set<int64_t> produced;
  std::map<int64_t, std::vector<double>> values;
};

} // namespace

Status interpretGraph(const GraphSpec &graph, const HostBuffers &buffers) {
  if (Status status = verifyGraph(graph); !status.ok())
    return status;
  return Interpreter(graph).run(buffers);
}

} // namespace gptc::cuda::cudnn
