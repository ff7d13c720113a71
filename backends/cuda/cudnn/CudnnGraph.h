//===- CudnnGraph.h - op-graph specs as cuDNN execution plans ---*- C++ -*-===//
//
// The cuDNN consumer of SdpaGraph.h's specs, in plain C++ against the
// backend API of cudnn_graph.h (link -lcudnn). The steps, each its own
// function so that tests can check them one by one:
//   DeviceProperties  the device plans are made for: the GPU behind a
//                     handle, or a JSON device description (deviceless);
//   OperationGraph    tensor, matmul, pointwise, reduction and reshape
//                     descriptors and the finalised operation graph;
//   queryHeuristics   heuristics mode A: the engine configs cuDNN proposes
//                     and keeps after its support checks, best first;
//   ExecutionPlan     one engine config finalised into a plan (compiles the
//                     kernel, with NVRTC for runtime-compiled engines, and
//                     loads it with the driver);
//   CompiledGraph     the first config whose plan finalises, and execute():
//                     a variant pack of uid → device pointer (by-value
//                     scalars as host pointers to the spec's values) plus the
//                     plan's workspace, queued on the handle's stream.
// Deviceless planning runs every step but the last: without a GPU, plan
// finalisation stops when the driver is asked to load the compiled module.
// cuDNN reaches the driver through libcuda.so.1, which must be on the
// library path even then (the toolkit's stub will do).
//
// Failures come back as Status messages naming the graph, the tensor, op or
// engine config, cuDNN's status and its own explanation
// (cudnnGetLastErrorString), e.g. deviceless with the driver stub:
//   sdpa_fwd: engine config 0 (engine 2): CUDNN_STATUS_EXECUTION_FAILED_
//   CUDA_DRIVER: cuLibraryLoadData returned error  (34) at: CUDA_SUCCESS !=
//   result
// cuDNN checks most of a graph's types and shapes per engine, during
// heuristics: a graph that no engine takes (matmul operands of different
// types, say) finalises but gets no supported config, and the engines'
// reasons only appear in cuDNN's log (CUDNN_LOGLEVEL_DBG=2
// CUDNN_LOGDEST_DBG=stderr).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_CUDNN_CUDNNGRAPH_H
#define GPTC_BACKENDS_CUDA_CUDNN_CUDNNGRAPH_H

#include "backends/common/Status.h"
#include "backends/cuda/cudnn/SdpaGraph.h"

#include <cudnn.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gptc::cuda::cudnn {

/// Owns one cuDNN backend descriptor.
class Descriptor {
public:
  Descriptor() = default;
  Descriptor(Descriptor &&other) noexcept;
  Descriptor &operator=(Descriptor &&other) noexcept;
  Descriptor(const Descriptor &) = delete;
  Descriptor &operator=(const Descriptor &) = delete;
  ~Descriptor();

  /// A new descriptor of `type`, not finalised; errors name `what`.
  static Expected<Descriptor> create(cudnnBackendDescriptorType_t type,
                                     const std::string &what);

  cudnnBackendDescriptor_t get() const { return handle; }

private:
  cudnnBackendDescriptor_t handle = nullptr;
};

/// The device execution plans are made for.
class DeviceProperties {
public:
  /// From a JSON device description, for planning without the device. The
  /// keys cuDNN 9.19 requires: maxGridSize, maxBlockSize (arrays of 3),
  /// regsPerBlock, multiProcessorCount, warpSize, maxSharedMemoryPerBlock,
  /// maxSharedMemoryPerBlockOptin, reservedSharedMemoryPerBlock,
  /// maxRegistersPerSM, maxCtasPerSM, maxThreadsPerBlock, maxThreadsPerSM,
  /// pciDeviceId, isTccDriver, supportCoopLaunch (0 or 1), totalGlobalMem,
  /// smClockRateKHz, memClockRateKHz, l2CacheSize, cudaDeviceId, deviceVer
  /// (compute capability × 100: 900 for sm_90), driverVer (CUDA version ×
  /// 1000 + minor × 10), deviceName.
  static Expected<DeviceProperties> fromJson(const std::string &json);

  /// Of the GPU `handle` was created on.
  static Expected<DeviceProperties> fromHandle(cudnnHandle_t handle);

  cudnnBackendDescriptor_t get() const { return descriptor.get(); }

private:
  Descriptor descriptor;
};

/// A GraphSpec as a finalised cuDNN operation graph, with every descriptor
/// the graph references.
class OperationGraph {
public:
  /// Verifies `spec` (verifyGraph) and builds its descriptors.
  static Expected<OperationGraph> build(GraphSpec spec);

  const GraphSpec &spec() const { return graphSpec; }
  cudnnBackendDescriptor_t get() const { return graph.get(); }

private:
  GraphSpec graphSpec;
  std::vector<Descriptor> parts;
  Descriptor graph;
};

/// An engine config proposed by heuristics, with what cuDNN says it needs.
struct EngineConfig {
  Descriptor descriptor;
  /// "<graph>: engine config <rank> (engine <engineIndex>)", for messages.
  std::string label;
  /// cuDNN's global engine index (CUDNN_ATTR_ENGINE_GLOBAL_INDEX).
  int64_t engineIndex = -1;
  int64_t sharedMemoryBytes = 0;
  int64_t workspaceBytes = 0;
};

/// What heuristics mode A returned for a graph.
struct Heuristics {
  /// How many engine configs heuristics proposed.
  int64_t proposed = 0;
  /// The ones that passed cuDNN's support checks, best first.
  std::vector<EngineConfig> supported;
};

Expected<Heuristics> queryHeuristics(const OperationGraph &graph,
                                     const DeviceProperties &device);

/// A finalised execution plan.
class ExecutionPlan {
public:
  static Expected<ExecutionPlan> finalize(const EngineConfig &config,
                                          const DeviceProperties &device);

  cudnnBackendDescriptor_t get() const { return plan.get(); }
  /// Device memory execute() needs as workspace.
  int64_t workspaceBytes() const { return workspace; }

private:
  Descriptor plan;
  int64_t workspace = 0;
};

/// The device memory bound to one non-virtual tensor of a graph, laid out by
/// the tensor's dims and strides.
struct TensorPointer {
  int64_t uid;
  void *pointer;
};

/// A graph with the execution plan of the best engine config that
/// finalises for the device. Build one per shape and keep it.
class CompiledGraph {
public:
  static Expected<CompiledGraph> compile(GraphSpec spec,
                                         const DeviceProperties &device);

  const GraphSpec &spec() const { return graph.spec(); }
  int64_t workspaceBytes() const { return plan.workspaceBytes(); }

  /// Runs the plan on the stream of `handle` (cudnnSetStream). `pointers`
  /// holds exactly one device pointer per non-virtual tensor of the spec
  /// that is not by-value; `workspace` (device) has workspaceBytes() bytes
  /// and may be null when that is 0.
  Status execute(cudnnHandle_t handle,
                 const std::vector<TensorPointer> &pointers,
                 void *workspace) const;

private:
  CompiledGraph(OperationGraph graph, ExecutionPlan plan)
      : graph(std::move(graph)), plan(std::move(plan)) {}

  OperationGraph graph;
  ExecutionPlan plan;
};

} // namespace gptc::cuda::cudnn

#endif // GPTC_BACKENDS_CUDA_CUDNN_CUDNNGRAPH_H
