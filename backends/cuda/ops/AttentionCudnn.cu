//===- AttentionCudnn.cu - fused attention through cuDNN's SDPA graphs ----===//
//
// --attention=cudnn: causalAttentionCudnn and causalAttentionBackwardCudnn
// run the composite SDPA graphs of cudnn/SdpaGraph.h instead of gptc's own
// kernels, with the same arguments (fp32 in gptc's layouts). On the GPU the
// graph is planned once per shape for the device (cudnn/CudnnGraph.h) and
// its bf16 operands and results are converted on the stream; the softmax
// statistics (lse) are fp32 and bound directly. The emulator build gives
// the same spec to the graph interpreter, so the path that --target=cuda
// runs is the one the tests run.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Ops.h"
#include "backends/cuda/Workspace.h"
#include "backends/cuda/cudnn/SdpaGraph.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>

#ifdef __CUDACC__
#include "backends/cuda/Launch.h"
#include "backends/cuda/cudnn/CudnnGraph.h"
#include "backends/cuda/ops/Convert.h"
#else
#include "backends/cuda/Emulator.h"
#include "backends/cuda/cudnn/GraphInterpreter.h"
#endif

namespace gptc::cuda {
namespace {

using namespace cudnn;

/// gptc's fp32 buffer behind each tensor a graph exchanges with its caller
/// (q, k, v, o, lse, ...), by uid. The graph's workspaces (softmax_sum,
/// dQ_accum) are not bound: they come from scratch memory.
using Bindings = std::map<int64_t, float *>;

[[noreturn]] void fail(const GraphSpec &graph, const std::string &message) {
  std::fprintf(stderr, "error: cuDNN attention graph '%s': %s\n",
               graph.name.c_str(), message.c_str());
  std::exit(1);
}

/// The tensors that need memory at execution: not virtual, not by value.
bool needsMemory(const TensorSpec &tensor) {
  return !tensor.isVirtual && !tensor.isByValue;
}

constexpr size_t kAlignment = 256;

size_t alignUp(size_t bytes) {
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

#ifdef __CUDACC__
bool isOutput(const GraphSpec &graph, int64_t uid) {
  for (const OpSpec &op : graph.ops)
    if (op.output == uid)
      return true;
  return false;
}

cudnnHandle_t cudnnHandle() {
  static cudnnHandle_t handle = [] {
    cudnnHandle_t created;
    if (cudnnCreate(&created) != CUDNN_STATUS_SUCCESS ||
        cudnnSetStream(created, stream()) != CUDNN_STATUS_SUCCESS) {
      std::fprintf(stderr, "error: cannot initialise cuDNN on this GPU\n");
      std::exit(1);
    }
    return created;
  }();
  return handle;
}

/// The execution plan of `graph`, made on first use for this GPU and kept.
const CompiledGraph &planFor(const GraphSpec &graph,
                             const std::tuple<int64_t, int64_t, int64_t,
                                              int64_t, int64_t, float> &shape) {
  static std::map<std::pair<std::string, decltype(shape)>, CompiledGraph> plans;
  auto key = std::make_pair(graph.name, shape);
  auto found = plans.find(key);
  if (found != plans.end())
    return found->second;
  Expected<DeviceProperties> device =
      DeviceProperties::fromHandle(cudnnHandle());
  if (!device.ok())
    fail(graph, device.status().message());
  Expected<CompiledGraph> compiled = CompiledGraph::compile(graph, *device);
  if (!compiled.ok())
    fail(graph,
         compiled.status().message() + " (use --attention=own for this shape)");
  return plans.emplace(key, std::move(*compiled)).first->second;
}

/// Runs `graph` on the stream: bf16 tensors get converted copies in
/// scratch memory, fp32 ones use gptc's buffers directly.
void run(const GraphSpec &graph, const Bindings &bound,
         const std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, float>
             &shape) {
  const CompiledGraph &plan = planFor(graph, shape);
  size_t total = 0;
  for (const TensorSpec &tensor : graph.tensors)
    if (needsMemory(tensor) &&
        (!bound.count(tensor.uid) || tensor.dataType != DataType::Float))
      total += alignUp(size_t(tensor.spanElements()) *
                       (tensor.dataType == DataType::Float ? 4 : 2));
  char *base = static_cast<char *>(scratch(Scratch::CudnnTensors, total));
  std::vector<TensorPointer> pointers;
  struct Result {
    const uint16_t *bf16;
    float *fp32;
    int64_t n;
  };
  std::vector<Result> results; // converted back after the graph ran
  for (const TensorSpec &tensor : graph.tensors) {
    if (!needsMemory(tensor))
      continue;
    auto binding = bound.find(tensor.uid);
    if (binding != bound.end() && tensor.dataType == DataType::Float) {
      pointers.push_back({tensor.uid, binding->second});
      continue;
    }
    void *memory = base;
    base += alignUp(size_t(tensor.spanElements()) *
                    (tensor.dataType == DataType::Float ? 4 : 2));
    pointers.push_back({tensor.uid, memory});
    if (binding == bound.end())
      continue; // a workspace of the graph
    auto *bf16 = static_cast<uint16_t *>(memory);
    if (isOutput(graph, tensor.uid))
      results.push_back({bf16, binding->second, tensor.spanElements()});
    else
      convertToBf16(binding->second, bf16, tensor.spanElements());
  }
  void *workspace =
      plan.workspaceBytes() > 0
          ? scratch(Scratch::CudnnWorkspace, size_t(plan.workspaceBytes()))
          : nullptr;
  if (Status status = plan.execute(cudnnHandle(), pointers, workspace);
      !status.ok())
    fail(graph, status.message());
  for (const Result &result : results)
    convertFromBf16(result.bf16, result.fp32, result.n);
}
#else
/// Interprets `graph` on the emulated stream: the interpreter reads and
/// writes floats, rounding them to each tensor's data type as cuDNN would
/// store it.
void run(
    const GraphSpec &graph, const Bindings &bound,
    const std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, float> &) {
  HostBuffers buffers(bound.begin(), bound.end());
  size_t total = 0;
  for (const TensorSpec &tensor : graph.tensors)
    if (needsMemory(tensor) && !bound.count(tensor.uid))
      total += alignUp(size_t(tensor.spanElements()) * sizeof(float));
  char *base = static_cast<char *>(scratch(Scratch::CudnnTensors, total));
  for (const TensorSpec &tensor : graph.tensors) {
    if (!needsMemory(tensor) || bound.count(tensor.uid))
      continue;
    buffers[tensor.uid] = reinterpret_cast<float *>(base);
    base += alignUp(size_t(tensor.spanElements()) * sizeof(float));
  }
  emulatorEnqueue([graph, buffers] {
    if (Status status = interpretGraph(graph, buffers); !status.ok())
      fail(graph, status.message());
  });
}
#endif

} // namespace

// The graphs only read their inputs; Bindings holds mutable pointers because
// outputs share it.
void causalAttentionCudnn(const float *q, // [B, T, H, D]
                          const float *k, // [B, T, Hkv, D]
                          const float *v, // [B, T, Hkv, D]
                          float *o,       // [B, T, H, D]
                          float *lse,     // [B, H, T]
                          int64_t B, int64_t T, int64_t H, int64_t Hkv,
                          int64_t D, float scale) {
  if (B * T * H == 0)
    return;
  run(sdpaForwardGraph(B, H, Hkv, T, D, scale),
      {{kUidQ, const_cast<float *>(q)},
       {kUidK, const_cast<float *>(k)},
       {kUidV, const_cast<float *>(v)},
       {kUidO, o},
       {kUidStats, lse}},
      {B, T, H, Hkv, D, scale});
}

void causalAttentionBackwardCudnn(const float *q,    // [B, T, H, D]
                                  const float *k,    // [B, T, Hkv, D]
                                  const float *v,    // [B, T, Hkv, D]
                                  const float *o,    // [B, T, H, D]
                                  const float *lse,  // [B, H, T]
                                  const float *dout, // [B, T, H, D]
                                  float *dq,         // [B, T, H, D]
                                  float *dk,         // [B, T, Hkv, D]
                                  float *dv,         // [B, T, Hkv, D]
                                  int64_t B, int64_t T, int64_t H, int64_t Hkv,
                                  int64_t D, float scale) {
  if (B * T * H == 0)
    return;
  run(sdpaBackwardGraph(B, H, Hkv, T, D, scale),
      {{kUidQ, const_cast<float *>(q)},
       {kUidK, const_cast<float *>(k)},
       {kUidV, const_cast<float *>(v)},
       {kUidO, const_cast<float *>(o)},
       {kUidStats, const_cast<float *>(lse)},
       {kUidDO, const_cast<float *>(dout)},
       {kUidDQ, dq},
       {kUidDK, dk},
       {kUidDV, dv}},
      {B, T, H, Hkv, D, scale});
}

} // namespace gptc::cuda
