//===- CudnnGraph.cpp - op-graph specs as cuDNN execution plans -----------===//
//
// Every descriptor is made the same way: create, set attributes, finalise;
// AttributeWriter keeps the first failure so that a descriptor's attributes
// read as one list. All tensors are 16-byte aligned (cudaMalloc and gptc's
// memory planner give 256) and all ops compute in fp32.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/cudnn/CudnnGraph.h"

#include <map>
#include <utility>

namespace gptc::cuda::cudnn {
namespace {

/// `what` failed with `status`, in cuDNN's words.
Status cudnnFailure(const std::string &what, cudnnStatus_t status) {
  char reason[2048] = {};
  cudnnGetLastErrorString(reason, sizeof(reason));
  return Status::error("{}: {}: {}", what, cudnnGetErrorString(status), reason);
}

/// Sets attributes of one descriptor and finalises it, keeping the first
/// failure.
class AttributeWriter {
public:
  AttributeWriter(cudnnBackendDescriptor_t descriptor, std::string what)
      : descriptor(descriptor), what(std::move(what)) {}

  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
           int64_t count, const void *values) {
    if (!failure.ok())
      return;
    cudnnStatus_t status =
        cudnnBackendSetAttribute(descriptor, name, type, count, values);
    if (status != CUDNN_STATUS_SUCCESS)
      failure = cudnnFailure(what, status);
  }

  void setInt64(cudnnBackendAttributeName_t name, int64_t value) {
    set(name, CUDNN_TYPE_INT64, 1, &value);
  }
  void setInt64s(cudnnBackendAttributeName_t name,
                 const std::vector<int64_t> &values) {
    set(name, CUDNN_TYPE_INT64, static_cast<int64_t>(values.size()),
        values.data());
  }
  void setBoolean(cudnnBackendAttributeName_t name, bool value) {
    set(name, CUDNN_TYPE_BOOLEAN, 1, &value);
  }
  void setDataType(cudnnBackendAttributeName_t name, cudnnDataType_t value) {
    set(name, CUDNN_TYPE_DATA_TYPE, 1, &value);
  }
  void setDescriptor(cudnnBackendAttributeName_t name,
                     cudnnBackendDescriptor_t value) {
    set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value);
  }

  Status finalize() {
    if (!failure.ok())
      return failure;
    cudnnStatus_t status = cudnnBackendFinalize(descriptor);
    if (status != CUDNN_STATUS_SUCCESS)
      return cudnnFailure(what, status);
    return Status::success();
  }

private:
  cudnnBackendDescriptor_t descriptor;
  std::string what;
  Status failure;
};

/// A finalised descriptor of `type` with the attributes `setAttributes`
/// gives an AttributeWriter; errors name `what`.
template <typename SetAttributes>
Expected<Descriptor> makeDescriptor(cudnnBackendDescriptorType_t type,
                                    const std::string &what,
                                    SetAttributes setAttributes) {
  Expected<Descriptor> descriptor = Descriptor::create(type, what);
  if (!descriptor.ok())
    return descriptor;
  AttributeWriter writer(descriptor->get(), what);
  setAttributes(writer);
  if (Status status = writer.finalize(); !status.ok())
    return status;
  return descriptor;
}

Status getAttribute(cudnnBackendDescriptor_t descriptor,
                    cudnnBackendAttributeName_t name,
                    cudnnBackendAttributeType_t type, int64_t requested,
                    int64_t *returned, void *values, const std::string &what) {
  cudnnStatus_t status = cudnnBackendGetAttribute(descriptor, name, type,
                                                  requested, returned, values);
  if (status != CUDNN_STATUS_SUCCESS)
    return cudnnFailure(what, status);
  return Status::success();
}

cudnnDataType_t cudnnType(DataType type) {
  switch (type) {
  case DataType::Float:
    return CUDNN_DATA_FLOAT;
  case DataType::BFloat16:
    return CUDNN_DATA_BFLOAT16;
  case DataType::Int32:
    return CUDNN_DATA_INT32;
  case DataType::Boolean:
    return CUDNN_DATA_BOOLEAN;
  }
  return CUDNN_DATA_FLOAT;
}

cudnnPointwiseMode_t cudnnMode(PointwiseMode mode) {
  switch (mode) {
  case PointwiseMode::Add:
    return CUDNN_POINTWISE_ADD;
  case PointwiseMode::Sub:
    return CUDNN_POINTWISE_SUB;
  case PointwiseMode::Mul:
    return CUDNN_POINTWISE_MUL;
  case PointwiseMode::Div:
    return CUDNN_POINTWISE_DIV;
  case PointwiseMode::Exp:
    return CUDNN_POINTWISE_EXP;
  case PointwiseMode::Log:
    return CUDNN_POINTWISE_LOG;
  case PointwiseMode::CmpGe:
    return CUDNN_POINTWISE_CMP_GE;
  case PointwiseMode::CmpLt:
    return CUDNN_POINTWISE_CMP_LT;
  case PointwiseMode::BinarySelect:
    return CUDNN_POINTWISE_BINARY_SELECT;
  case PointwiseMode::Identity:
    return CUDNN_POINTWISE_IDENTITY;
  }
  return CUDNN_POINTWISE_IDENTITY;
}

Expected<Descriptor> buildTensor(const GraphSpec &graph,
                                 const TensorSpec &tensor) {
  const std::string what = graph.name + ": tensor '" + tensor.name + "'";
  return makeDescriptor(
      CUDNN_BACKEND_TENSOR_DESCRIPTOR, what, [&](AttributeWriter &writer) {
        writer.setDataType(CUDNN_ATTR_TENSOR_DATA_TYPE,
                           cudnnType(tensor.dataType));
        writer.setInt64s(CUDNN_ATTR_TENSOR_DIMENSIONS, tensor.dims);
        writer.setInt64s(CUDNN_ATTR_TENSOR_STRIDES, tensor.strides);
        writer.setInt64(CUDNN_ATTR_TENSOR_UNIQUE_ID, tensor.uid);
        writer.setInt64(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 16);
        writer.setBoolean(CUDNN_ATTR_TENSOR_IS_VIRTUAL, tensor.isVirtual);
        writer.setBoolean(CUDNN_ATTR_TENSOR_IS_BY_VALUE, tensor.isByValue);
      });
}

/// Builds the operation descriptor of `op`, adding the matmul, pointwise or
/// reduction descriptor it references to `parts`.
Expected<Descriptor>
buildOperation(const GraphSpec &graph, const OpSpec &op,
               const std::map<int64_t, cudnnBackendDescriptor_t> &tensors,
               std::vector<Descriptor> &parts) {
  const std::string what = graph.name + ": op '" + op.name + "'";
  const cudnnDataType_t computeType = CUDNN_DATA_FLOAT;
  auto operand = [&](size_t i) { return tensors.at(op.inputs[i]); };
  const cudnnBackendDescriptor_t output = tensors.at(op.output);

  if (op.kind == OpKind::Reshape)
    return makeDescriptor(
        CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR, what,
        [&](AttributeWriter &writer) {
          writer.setDescriptor(CUDNN_ATTR_OPERATION_RESHAPE_XDESC, operand(0));
          writer.setDescriptor(CUDNN_ATTR_OPERATION_RESHAPE_YDESC, output);
        });

  if (op.kind == OpKind::Matmul) {
    Expected<Descriptor> matmul = makeDescriptor(
        CUDNN_BACKEND_MATMUL_DESCRIPTOR, what, [&](AttributeWriter &writer) {
          writer.setDataType(CUDNN_ATTR_MATMUL_COMP_TYPE, computeType);
        });
    if (!matmul.ok())
      return matmul;
    parts.push_back(std::move(*matmul));
    return makeDescriptor(
        CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, what,
        [&](AttributeWriter &writer) {
          writer.setDescriptor(CUDNN_ATTR_OPERATION_MATMUL_ADESC, operand(0));
          writer.setDescriptor(CUDNN_ATTR_OPERATION_MATMUL_BDESC, operand(1));
          writer.setDescriptor(CUDNN_ATTR_OPERATION_MATMUL_CDESC, output);
          writer.setDescriptor(CUDNN_ATTR_OPERATION_MATMUL_DESC,
                               parts.back().get());
        });
  }

  if (op.kind == OpKind::Reduction) {
    Expected<Descriptor> reduction = makeDescriptor(
        CUDNN_BACKEND_REDUCTION_DESCRIPTOR, what, [&](AttributeWriter &writer) {
          cudnnReduceTensorOp_t mode = op.reduction == ReductionMode::Max
                                           ? CUDNN_REDUCE_TENSOR_MAX
                                           : CUDNN_REDUCE_TENSOR_ADD;
          writer.set(CUDNN_ATTR_REDUCTION_OPERATOR,
                     CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode);
          writer.setDataType(CUDNN_ATTR_REDUCTION_COMP_TYPE, computeType);
        });
    if (!reduction.ok())
      return reduction;
    parts.push_back(std::move(*reduction));
    return makeDescriptor(
        CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, what,
        [&](AttributeWriter &writer) {
          writer.setDescriptor(CUDNN_ATTR_OPERATION_REDUCTION_XDESC,
                               operand(0));
          writer.setDescriptor(CUDNN_ATTR_OPERATION_REDUCTION_YDESC, output);
          writer.setDescriptor(CUDNN_ATTR_OPERATION_REDUCTION_DESC,
                               parts.back().get());
        });
  }

  // Pointwise, of which GEN_INDEX is a mode.
  const bool isGenIndex = op.kind == OpKind::GenIndex;
  Expected<Descriptor> pointwise = makeDescriptor(
      CUDNN_BACKEND_POINTWISE_DESCRIPTOR, what, [&](AttributeWriter &writer) {
        cudnnPointwiseMode_t mode =
            isGenIndex ? CUDNN_POINTWISE_GEN_INDEX : cudnnMode(op.pointwise);
        writer.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1,
                   &mode);
        writer.setDataType(CUDNN_ATTR_POINTWISE_MATH_PREC, computeType);
        if (isGenIndex)
          writer.setInt64(CUDNN_ATTR_POINTWISE_AXIS, op.axis);
      });
  if (!pointwise.ok())
    return pointwise;
  parts.push_back(std::move(*pointwise));
  const cudnnBackendAttributeName_t operandAttributes[] = {
      CUDNN_ATTR_OPERATION_POINTWISE_XDESC,
      CUDNN_ATTR_OPERATION_POINTWISE_BDESC,
      CUDNN_ATTR_OPERATION_POINTWISE_TDESC};
  return makeDescriptor(
      CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, what,
      [&](AttributeWriter &writer) {
        writer.setDescriptor(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR,
                             parts.back().get());
        for (size_t i = 0; i < op.inputs.size(); ++i)
          writer.setDescriptor(operandAttributes[i], operand(i));
        writer.setDescriptor(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, output);
      });
}

/// Reads what cuDNN says about one engine config returned by heuristics.
Status describeEngineConfig(EngineConfig &config) {
  Expected<Descriptor> engine =
      Descriptor::create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, config.label);
  if (!engine.ok())
    return engine.status();
  cudnnBackendDescriptor_t engineHandle = engine->get();
  const cudnnBackendDescriptor_t handle = config.descriptor.get();
  int64_t returned = 0;
  int32_t sharedMemory = 0;
  Status status = getAttribute(handle, CUDNN_ATTR_ENGINECFG_ENGINE,
                               CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &returned,
                               &engineHandle, config.label);
  if (status.ok())
    status = getAttribute(engineHandle, CUDNN_ATTR_ENGINE_GLOBAL_INDEX,
                          CUDNN_TYPE_INT64, 1, &returned, &config.engineIndex,
                          config.label);
  if (status.ok())
    status = getAttribute(handle, CUDNN_ATTR_ENGINECFG_SHARED_MEMORY_USED,
                          CUDNN_TYPE_INT32, 1, &returned, &sharedMemory,
                          config.label);
  if (status.ok())
    status = getAttribute(handle, CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE,
                          CUDNN_TYPE_INT64, 1, &returned,
                          &config.workspaceBytes, config.label);
  config.sharedMemoryBytes = sharedMemory;
  config.label += " (engine " + std::to_string(config.engineIndex) + ")";
  return status;
}

} // namespace

//===----------------------------------------------------------------------===//
// Descriptor, DeviceProperties
//===----------------------------------------------------------------------===//

Descriptor::Descriptor(Descriptor &&other) noexcept
    : handle(std::exchange(other.handle, nullptr)) {}

Descriptor &Descriptor::operator=(Descriptor &&other) noexcept {
  std::swap(handle, other.handle);
  return *this;
}

Descriptor::~Descriptor() {
  if (handle)
    cudnnBackendDestroyDescriptor(handle);
}

Expected<Descriptor> Descriptor::create(cudnnBackendDescriptorType_t type,
                                        const std::string &what) {
  Descriptor descriptor;
  cudnnStatus_t status = cudnnBackendCreateDescriptor(type, &descriptor.handle);
  if (status != CUDNN_STATUS_SUCCESS)
    return cudnnFailure(what, status);
  return descriptor;
}

Expected<DeviceProperties> DeviceProperties::fromJson(const std::string &json) {
  Expected<Descriptor> descriptor = makeDescriptor(
      CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR, "device description",
      [&](AttributeWriter &writer) {
        writer.set(CUDNN_ATTR_DEVICEPROP_JSON_REPRESENTATION, CUDNN_TYPE_CHAR,
                   static_cast<int64_t>(json.size()), json.data());
      });
  if (!descriptor.ok())
    return descriptor.status();
  DeviceProperties device;
  device.descriptor = std::move(*descriptor);
  return device;
}

Expected<DeviceProperties> DeviceProperties::fromHandle(cudnnHandle_t handle) {
  Expected<Descriptor> descriptor = makeDescriptor(
      CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR, "device properties",
      [&](AttributeWriter &writer) {
        writer.set(CUDNN_ATTR_DEVICEPROP_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
      });
  if (!descriptor.ok())
    return descriptor.status();
  DeviceProperties device;
  device.descriptor = std::move(*descriptor);
  return device;
}

//===----------------------------------------------------------------------===//
// OperationGraph, heuristics, ExecutionPlan
//===----------------------------------------------------------------------===//

Expected<OperationGraph> OperationGraph::build(GraphSpec spec) {
  if (Status status = verifyGraph(spec); !status.ok())
    return status;
  OperationGraph built;
  built.graphSpec = std::move(spec);
  const GraphSpec &graph = built.graphSpec;
  std::map<int64_t, cudnnBackendDescriptor_t> tensors;
  for (const TensorSpec &tensor : graph.tensors) {
    Expected<Descriptor> descriptor = buildTensor(graph, tensor);
    if (!descriptor.ok())
      return descriptor.status();
    tensors[tensor.uid] = descriptor->get();
    built.parts.push_back(std::move(*descriptor));
  }
  std::vector<cudnnBackendDescriptor_t> operations;
  for (const OpSpec &op : graph.ops) {
    Expected<Descriptor> operation =
        buildOperation(graph, op, tensors, built.parts);
    if (!operation.ok())
      return operation.status();
    operations.push_back(operation->get());
    built.parts.push_back(std::move(*operation));
  }
  Expected<Descriptor> finalized = makeDescriptor(
      CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, graph.name + ": graph",
      [&](AttributeWriter &writer) {
        writer.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                   static_cast<int64_t>(operations.size()), operations.data());
      });
  if (!finalized.ok())
    return finalized.status();
  built.graph = std::move(*finalized);
  return built;
}

Expected<Heuristics> queryHeuristics(const OperationGraph &graph,
                                     const DeviceProperties &device) {
  const std::string what = graph.spec().name + ": heuristics";
  Expected<Descriptor> heuristics = makeDescriptor(
      CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, what, [&](AttributeWriter &writer) {
        cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
        writer.setDescriptor(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH,
                             graph.get());
        writer.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
        writer.setDescriptor(CUDNN_ATTR_ENGINEHEUR_DEVICEPROP, device.get());
      });
  if (!heuristics.ok())
    return heuristics.status();

  // Asked for all it proposed, cuDNN returns only the configs that pass
  // its support checks.
  Heuristics result;
  if (Status status = getAttribute(
          heuristics->get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
          CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &result.proposed, nullptr, what);
      !status.ok())
    return status;
  std::vector<Descriptor> configs;
  std::vector<cudnnBackendDescriptor_t> handles;
  for (int64_t i = 0; i < result.proposed; ++i) {
    Expected<Descriptor> config =
        Descriptor::create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, what);
    if (!config.ok())
      return config.status();
    handles.push_back(config->get());
    configs.push_back(std::move(*config));
  }
  int64_t returned = 0;
  if (Status status =
          getAttribute(heuristics->get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                       CUDNN_TYPE_BACKEND_DESCRIPTOR, result.proposed,
                       &returned, handles.data(), what);
      !status.ok())
    return status;
  for (int64_t i = 0; i < returned; ++i) {
    EngineConfig config;
    config.descriptor = std::move(configs[i]);
    config.label = graph.spec().name + ": engine config " + std::to_string(i);
    if (Status status = describeEngineConfig(config); !status.ok())
      return status;
    result.supported.push_back(std::move(config));
  }
  return result;
}

Expected<ExecutionPlan>
ExecutionPlan::finalize(const EngineConfig &config,
                        const DeviceProperties &device) {
  Expected<Descriptor> descriptor = makeDescriptor(
      CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, config.label,
      [&](AttributeWriter &writer) {
        writer.setDescriptor(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                             config.descriptor.get());
        writer.setDescriptor(CUDNN_ATTR_EXECUTION_PLAN_DEVICEPROP,
                             device.get());
      });
  if (!descriptor.ok())
    return descriptor.status();
  ExecutionPlan plan;
  plan.plan = std::move(*descriptor);
  int64_t returned = 0;
  if (Status status = getAttribute(
          plan.plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
          CUDNN_TYPE_INT64, 1, &returned, &plan.workspace, config.label);
      !status.ok())
    return status;
  return plan;
}

//===----------------------------------------------------------------------===//
// CompiledGraph
//===----------------------------------------------------------------------===//

Expected<CompiledGraph> CompiledGraph::compile(GraphSpec spec,
                                               const DeviceProperties &device) {
  Expected<OperationGraph> graph = OperationGraph::build(std::move(spec));
  if (!graph.ok())
    return graph.status();
  Expected<Heuristics> heuristics = queryHeuristics(*graph, device);
  if (!heuristics.ok())
    return heuristics.status();
  const std::string &name = graph->spec().name;
  if (heuristics->supported.empty())
    return Status::error("{}: no engine config supports the graph ({} "
                         "proposed)",
                         name, heuristics->proposed);
  std::string failures;
  for (const EngineConfig &config : heuristics->supported) {
    Expected<ExecutionPlan> plan = ExecutionPlan::finalize(config, device);
    if (plan.ok())
      return CompiledGraph(std::move(*graph), std::move(*plan));
    failures += (failures.empty() ? "" : "; ") + plan.status().message();
  }
  return Status::error("{}: no execution plan finalised: {}", name, failures);
}

Status CompiledGraph::execute(cudnnHandle_t handle,
                              const std::vector<TensorPointer> &pointers,
                              void *workspace) const {
  const GraphSpec &graph = spec();
  std::map<int64_t, void *> bound;
  for (const TensorPointer &pointer : pointers) {
    const TensorSpec *tensor = graph.findTensor(pointer.uid);
    if (!tensor || tensor->isVirtual || tensor->isByValue)
      return Status::error("{}: uid {} names no tensor that takes a device "
                           "pointer",
                           graph.name, pointer.uid);
    if (!pointer.pointer || !bound.emplace(pointer.uid, pointer.pointer).second)
      return Status::error("{}: tensor '{}' is given a null pointer or two "
                           "pointers",
                           graph.name, tensor->name);
  }
  std::vector<int64_t> uids;
  std::vector<void *> addresses;
  for (const TensorSpec &tensor : graph.tensors) {
    if (tensor.isVirtual)
      continue;
    if (!tensor.isByValue && !bound.count(tensor.uid))
      return Status::error("{}: no device pointer for tensor '{}' (uid {})",
                           graph.name, tensor.name, tensor.uid);
    uids.push_back(tensor.uid);
    addresses.push_back(tensor.isByValue ? const_cast<float *>(&tensor.value)
                                         : bound[tensor.uid]);
  }
  if (workspaceBytes() > 0 && !workspace)
    return Status::error("{}: the plan needs {} bytes of workspace", graph.name,
                         workspaceBytes());

  const std::string what = graph.name + ": execute";
  Expected<Descriptor> variantPack = makeDescriptor(
      CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, what,
      [&](AttributeWriter &writer) {
        writer.setInt64s(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, uids);
        writer.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
                   static_cast<int64_t>(addresses.size()), addresses.data());
        writer.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1,
                   &workspace);
      });
  if (!variantPack.ok())
    return variantPack.status();
  cudnnStatus_t status =
      cudnnBackendExecute(handle, plan.get(), variantPack->get());
  if (status != CUDNN_STATUS_SUCCESS)
    return cudnnFailure(what, status);
  return Status::success();
}

} // namespace gptc::cuda::cudnn
