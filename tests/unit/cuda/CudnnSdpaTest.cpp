//===- CudnnSdpaTest.cpp - tests of the cuDNN SDPA graphs -----------------===//
//
// The cuDNN attention path cannot run here, so its two halves are checked
// apart:
//  * what the graphs compute: the interpreter runs the forward and backward
//    specs on bf16 inputs and is compared with the double-precision
//    attention references of tests/unit/cpu/Reference.h, over B ∈ {1, 2},
//    (H, Hkv) ∈ {(2,2), (4,2) GQA, (4,1) MQA}, T ∈ {5, 16, 33}, D ∈ {16, 64};
//    mutated specs (anti-causal mask, P without −Stats) must fail that
//    comparison;
//  * that cuDNN takes them: deviceless planning for an H100 (sm_90) and an
//    A100 (sm_80) described in Inputs/*.json builds the operation graphs at
//    training shapes, gets engine configs from heuristics and finalises
//    their plans up to the point where the driver would load the kernel.
//    That needs libcuda.so.1 on the library path to be the toolkit's stub
//    (/usr/local/cuda/lib64/stubs/libcuda.so under that name); without it
//    those tests are skipped.
//
//===----------------------------------------------------------------------===//

#include "backends/common/BFloat16.h"
#include "backends/common/FileUtil.h"
#include "backends/common/Json.h"
#include "backends/cuda/cudnn/CudnnGraph.h"
#include "backends/cuda/cudnn/GraphInterpreter.h"
#include "backends/cuda/cudnn/SdpaGraph.h"
#include "tests/unit/cpu/Reference.h"

#include <gtest/gtest.h>

#include <cuda.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace gptc::cuda::cudnn {
namespace {

namespace ref = gptc::cpu::ref;

struct Heads {
  int64_t H, Hkv;
};

struct Shape {
  int64_t B, H, Hkv, T, D;
};

/// n random floats in [lo, hi) rounded to bfloat16, the graphs' input type.
std::vector<float> randomBf16(int64_t n, uint32_t seed, float lo, float hi) {
  std::vector<float> values = ref::randomFloats(n, seed, lo, hi);
  for (float &value : values)
    value = bf16ToF32(f32ToBf16(value));
  return values;
}

/// One attention problem: q, k, v and an output gradient, seeded by the
/// shape, and scale = 1/sqrt(D).
struct Problem {
  explicit Problem(const Shape &shape) : shape(shape) {
    const auto [B, H, Hkv, T, D] = shape;
    const uint32_t seed =
        static_cast<uint32_t>(((B * 10 + H) * 10 + Hkv) * 1000 + T * 100 + D);
    scale = 1.0f / std::sqrt(static_cast<float>(D));
    // Inputs in [-2, 2) make scores of a few units: peaked but not one-hot
    // softmax rows.
    q = randomBf16(B * T * H * D, seed, -2, 2);
    k = randomBf16(B * T * Hkv * D, seed + 1, -2, 2);
    v = randomBf16(B * T * Hkv * D, seed + 2, -1, 1);
    dout = randomBf16(B * T * H * D, seed + 3, -1, 1);
  }

  GraphSpec forwardGraph() const {
    return sdpaForwardGraph(shape.B, shape.H, shape.Hkv, shape.T, shape.D,
                            scale);
  }
  GraphSpec backwardGraph() const {
    return sdpaBackwardGraph(shape.B, shape.H, shape.Hkv, shape.T, shape.D,
                             scale);
  }

  Shape shape;
  float scale;
  std::vector<float> q, dout; // [B, T, H, D]
  std::vector<float> k, v;    // [B, T, Hkv, D]
};

const float kNaN = std::numeric_limits<float>::quiet_NaN();

/// Outputs of the forward graph, NaN where the interpreter wrote nothing.
struct ForwardOutputs {
  std::vector<float> o;     // [B, T, H, D]
  std::vector<float> stats; // [B, H, T]
};

ForwardOutputs interpretForward(const GraphSpec &graph, Problem problem) {
  const auto [B, H, Hkv, T, D] = problem.shape;
  ForwardOutputs out{std::vector<float>(B * T * H * D, kNaN),
                     std::vector<float>(B * H * T, kNaN)};
  Status status = interpretGraph(graph, {{kUidQ, problem.q.data()},
                                         {kUidK, problem.k.data()},
                                         {kUidV, problem.v.data()},
                                         {kUidO, out.o.data()},
                                         {kUidStats, out.stats.data()}});
  EXPECT_TRUE(status.ok()) << status.message();
  return out;
}

/// Outputs of the backward graph, NaN where the interpreter wrote nothing.
struct BackwardOutputs {
  std::vector<float> dq;         // [B, T, H, D]
  std::vector<float> dk, dv;     // [B, T, Hkv, D]
  std::vector<float> softmaxSum; // [B, H, T]
  std::vector<float> dqAccum;    // [B, H, T, D]
};

/// Runs the backward graph on the reference forward's o (rounded to bf16,
/// as the GPU stores it) and lse (fp32).
BackwardOutputs interpretBackward(const GraphSpec &graph, Problem problem) {
  const auto [B, H, Hkv, T, D] = problem.shape;
  std::vector<double> lse;
  const std::vector<double> oExact = ref::causalAttention(
      problem.q, problem.k, problem.v, B, T, H, Hkv, D, problem.scale, lse);
  std::vector<float> o(oExact.size()), stats(lse.begin(), lse.end());
  for (size_t i = 0; i < o.size(); ++i)
    o[i] = bf16ToF32(f32ToBf16(static_cast<float>(oExact[i])));
  BackwardOutputs out{std::vector<float>(B * T * H * D, kNaN),
                      std::vector<float>(B * T * Hkv * D, kNaN),
                      std::vector<float>(B * T * Hkv * D, kNaN),
                      std::vector<float>(B * H * T, kNaN),
                      std::vector<float>(B * H * T * D, kNaN)};
  Status status =
      interpretGraph(graph, {{kUidQ, problem.q.data()},
                             {kUidK, problem.k.data()},
                             {kUidV, problem.v.data()},
                             {kUidO, o.data()},
                             {kUidDO, problem.dout.data()},
                             {kUidStats, stats.data()},
                             {kUidDQ, out.dq.data()},
                             {kUidDK, out.dk.data()},
                             {kUidDV, out.dv.data()},
                             {kUidSoftmaxSum, out.softmaxSum.data()},
                             {kUidDQAccum, out.dqAccum.data()}});
  EXPECT_TRUE(status.ok()) << status.message();
  return out;
}

double maxAbs(const std::vector<double> &values) {
  double largest = 0.0;
  for (double value : values)
    largest = std::max(largest, std::fabs(value));
  return largest;
}

/// got is within `tolerance`·max|want| of want everywhere (NaN fails).
::testing::AssertionResult closeRelativeToMax(const std::vector<float> &got,
                                              const std::vector<double> &want,
                                              double tolerance) {
  return ref::allClose(got, want, tolerance * maxAbs(want), 0.0);
}

//===----------------------------------------------------------------------===//
// The graphs' meaning, by interpretation
//===----------------------------------------------------------------------===//

class SdpaInterpreterTest : public ::testing::TestWithParam<
                                std::tuple<int64_t, Heads, int64_t, int64_t>> {
protected:
  Shape shape() const {
    const auto &[B, heads, T, D] = GetParam();
    return {B, heads.H, heads.Hkv, T, D};
  }
};

TEST_P(SdpaInterpreterTest, ForwardMatchesDoubleReference) {
  // P is rounded to bf16 (relative error ≤ 2^-8 per weight, and the
  // weights sum to 1), so P·V errs by at most 2^-8·max|v| < 2^-8 (v in
  // [-1, 1)); rounding o to bf16 adds 2^-8·|o|: atol 5e-3, rtol 5e-3
  // (1.28·2^-8; measured worst 4.3e-3). Stats comes from fp32 scores
  // (|s| ≤ 32, so errors ≤ 2·2^-24·32 ≈ 4e-6) and is stored in fp32: atol
  // 1e-5, rtol 2^-23 (measured worst 3.3e-7). An anti-causal mask gives NaN
  // rows and errors above 1.
  const Problem problem(shape());
  const auto [B, H, Hkv, T, D] = problem.shape;
  const ForwardOutputs got = interpretForward(problem.forwardGraph(), problem);
  std::vector<double> lse;
  const std::vector<double> o = ref::causalAttention(
      problem.q, problem.k, problem.v, B, T, H, Hkv, D, problem.scale, lse);
  EXPECT_TRUE(ref::allClose(got.o, o, 5e-3, 5e-3));
  EXPECT_TRUE(ref::allClose(got.stats, lse, 1e-5, 0x1p-23));
}

TEST_P(SdpaInterpreterTest, BackwardMatchesDoubleReference) {
  // The graph rounds P (for dV) and dS (for dQ and dK) to bf16, reads o in
  // bf16 for softmax_sum and, with GQA, rounds each head's dK and dV to
  // bf16 before summing a group: relative errors of 2^-8 on the terms of
  // sums that partly cancel. The worst error over these shapes is 7.2e-3
  // of the largest reference gradient; tolerance 2e-2 of it. Dropping
  // −Stats from P errs by 30 to 100 times the largest gradient (see
  // ProbabilitiesWithoutStatsAreCaught).
  const Problem problem(shape());
  const auto [B, H, Hkv, T, D] = problem.shape;
  const BackwardOutputs got =
      interpretBackward(problem.backwardGraph(), problem);
  std::vector<double> dq, dk, dv;
  ref::causalAttentionBackward(problem.q, problem.k, problem.v, problem.dout, B,
                               T, H, Hkv, D, problem.scale, dq, dk, dv);
  EXPECT_TRUE(closeRelativeToMax(got.dq, dq, 2e-2));
  EXPECT_TRUE(closeRelativeToMax(got.dk, dk, 2e-2));
  EXPECT_TRUE(closeRelativeToMax(got.dv, dv, 2e-2));
}

std::string shapeName(
    const ::testing::TestParamInfo<SdpaInterpreterTest::ParamType> &info) {
  const auto &[B, heads, T, D] = info.param;
  return "B" + std::to_string(B) + "_H" + std::to_string(heads.H) + "_Hkv" +
         std::to_string(heads.Hkv) + "_T" + std::to_string(T) + "_D" +
         std::to_string(D);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SdpaInterpreterTest,
    ::testing::Combine(::testing::Values(1, 2),
                       ::testing::Values(Heads{2, 2}, Heads{4, 2}, Heads{4, 1}),
                       ::testing::Values(5, 16, 33), ::testing::Values(16, 64)),
    shapeName);

// The comparisons above can fail: specs that cuDNN compiles just as happily
// (kernels.md §2.6) but that compute something else are caught.

TEST(SdpaInterpreter, AntiCausalMaskIsCaught) {
  const Problem problem({2, 4, 2, 16, 16});
  const auto [B, H, Hkv, T, D] = problem.shape;
  GraphSpec graph = problem.forwardGraph();
  ASSERT_NE(graph.findOp("causal_mask"), nullptr);
  graph.findOp("causal_mask")->pointwise = PointwiseMode::CmpLt;
  const ForwardOutputs got = interpretForward(graph, problem);
  std::vector<double> lse;
  const std::vector<double> o = ref::causalAttention(
      problem.q, problem.k, problem.v, B, T, H, Hkv, D, problem.scale, lse);
  EXPECT_FALSE(ref::allClose(got.o, o, 5e-3, 5e-3));
  EXPECT_FALSE(ref::allClose(got.stats, lse, 1e-5, 0x1p-23));
}

TEST(SdpaInterpreter, ProbabilitiesWithoutStatsAreCaught) {
  const Problem problem({2, 4, 2, 16, 16});
  const auto [B, H, Hkv, T, D] = problem.shape;
  GraphSpec graph = problem.backwardGraph();
  OpSpec *subtractStats = graph.findOp("sub_stats");
  ASSERT_NE(subtractStats, nullptr);
  subtractStats->pointwise = PointwiseMode::Identity;
  subtractStats->inputs.pop_back();
  const BackwardOutputs got = interpretBackward(graph, problem);
  std::vector<double> dq, dk, dv;
  ref::causalAttentionBackward(problem.q, problem.k, problem.v, problem.dout, B,
                               T, H, Hkv, D, problem.scale, dq, dk, dv);
  EXPECT_FALSE(closeRelativeToMax(got.dq, dq, 2e-2));
  EXPECT_FALSE(closeRelativeToMax(got.dk, dk, 2e-2));
  EXPECT_FALSE(closeRelativeToMax(got.dv, dv, 2e-2));
}

TEST(SdpaGraph, OpCountsMatchTheCompositeGraphs) {
  EXPECT_EQ(sdpaForwardGraph(1, 4, 2, 8, 16, 0.25f).ops.size(), 14u);
  EXPECT_EQ(sdpaBackwardGraph(1, 4, 4, 8, 16, 0.25f).ops.size(), 22u);
  EXPECT_EQ(sdpaBackwardGraph(1, 4, 2, 8, 16, 0.25f).ops.size(), 24u);
  for (const GraphSpec &graph : {sdpaForwardGraph(1, 4, 2, 8, 16, 0.25f),
                                 sdpaBackwardGraph(1, 4, 2, 8, 16, 0.25f)}) {
    Status status = verifyGraph(graph);
    EXPECT_TRUE(status.ok()) << status.message();
  }
}

TEST(SdpaInterpreter, RejectsMalformedGraphs) {
  Problem problem({1, 2, 2, 5, 16});
  // An op reading a virtual tensor before it is written.
  GraphSpec reordered = problem.forwardGraph();
  std::swap(reordered.ops[0], reordered.ops[1]);
  Status status = verifyGraph(reordered);
  EXPECT_EQ(status.message(),
            "sdpa_fwd: op 'scale' reads 'scores' before it is written");
  // P·V with P in fp32 and V in bf16, which no cuDNN engine takes either.
  GraphSpec mixedTypes = problem.forwardGraph();
  for (TensorSpec &tensor : mixedTypes.tensors)
    if (tensor.name == "probs")
      tensor.dataType = DataType::Float;
  std::vector<float> o(problem.q.size()), stats(5 * 2);
  status = interpretGraph(mixedTypes, {{kUidQ, problem.q.data()},
                                       {kUidK, problem.k.data()},
                                       {kUidV, problem.v.data()},
                                       {kUidO, o.data()},
                                       {kUidStats, stats.data()}});
  EXPECT_EQ(status.message(),
            "sdpa_fwd: op 'p_v': A and B must have the same data type");
  // A missing buffer.
  status = interpretGraph(problem.forwardGraph(), {{kUidQ, problem.q.data()}});
  EXPECT_EQ(status.message(), "sdpa_fwd: no buffer for tensor 'k_transposed' "
                              "(uid 2)");
}

//===----------------------------------------------------------------------===//
// Deviceless planning with cuDNN
//===----------------------------------------------------------------------===//

/// Why deviceless planning cannot be checked here, or nullopt. cuDNN needs
/// a libcuda.so.1 even to plan, and the expectations below are those of the
/// toolkit's driver stub (a real driver would load the kernel).
std::optional<std::string> devicelessUnavailable() {
  cudnnStatus_t status = cudnnGraphVersionCheck();
  if (status != CUDNN_STATUS_SUCCESS)
    return std::string("cuDNN's graph library is unusable: ") +
           cudnnGetErrorString(status);
  void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!driver)
    return std::string("no libcuda.so.1 on the library path; link "
                       "/usr/local/cuda/lib64/stubs/libcuda.so as "
                       "DIR/libcuda.so.1 and set LD_LIBRARY_PATH=DIR");
  using CuInit = CUresult (*)(unsigned int);
  auto init = reinterpret_cast<CuInit>(dlsym(driver, "cuInit"));
  const int result = init ? init(0) : -1;
  dlclose(driver);
  if (result != CUDA_ERROR_STUB_LIBRARY)
    return "libcuda.so.1 is not the driver stub (cuInit returned " +
           std::to_string(result) + ")";
  return std::nullopt;
}

/// The device description Inputs/`device`.json and its shared memory limit.
struct DeviceDescription {
  std::string json;
  int64_t maxSharedMemoryPerBlockOptin = 0;
};

DeviceDescription readDeviceDescription(const std::string &device) {
  const std::string path = std::string(GPTC_SOURCE_DIR) +
                           "/tests/unit/cuda/Inputs/" + device + ".json";
  Expected<std::string> text = readFile(path);
  EXPECT_TRUE(text.ok()) << text.status().message();
  if (!text.ok())
    return {};
  Expected<Json> json = parseJson(*text, path);
  EXPECT_TRUE(json.ok()) << json.status().message();
  const Json *limit =
      json.ok() ? json->find("maxSharedMemoryPerBlockOptin") : nullptr;
  EXPECT_TRUE(limit && limit->isNumber() && limit->getInteger())
      << path << ": no integer maxSharedMemoryPerBlockOptin";
  if (!limit || !limit->isNumber() || !limit->getInteger())
    return {};
  return {*text, *limit->getInteger()};
}

/// What plan finalisation ends with under the driver stub: every check and
/// the kernel compile pass, and loading the compiled module into the
/// driver fails (CUDA_ERROR_STUB_LIBRARY).
const char *const kStubFailure =
    ": CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER: cuLibraryLoadData returned "
    "error  (34) at: CUDA_SUCCESS != result";

class DevicelessPlanningTest
    : public ::testing::TestWithParam<std::tuple<const char *, Shape>> {};

TEST_P(DevicelessPlanningTest, PlansFinalizeUpToModuleLoading) {
  if (std::optional<std::string> reason = devicelessUnavailable())
    GTEST_SKIP() << *reason;
  const auto &[deviceName, shape] = GetParam();
  const DeviceDescription description = readDeviceDescription(deviceName);
  ASSERT_FALSE(description.json.empty());
  Expected<DeviceProperties> device =
      DeviceProperties::fromJson(description.json);
  ASSERT_TRUE(device.ok()) << device.status().message();
  const float scale = 1.0f / std::sqrt(static_cast<float>(shape.D));
  for (GraphSpec spec :
       {sdpaForwardGraph(shape.B, shape.H, shape.Hkv, shape.T, shape.D, scale),
        sdpaBackwardGraph(shape.B, shape.H, shape.Hkv, shape.T, shape.D,
                          scale)}) {
    Expected<OperationGraph> graph = OperationGraph::build(std::move(spec));
    ASSERT_TRUE(graph.ok()) << graph.status().message();
    Expected<Heuristics> heuristics = queryHeuristics(*graph, *device);
    ASSERT_TRUE(heuristics.ok()) << heuristics.status().message();
    ASSERT_GE(heuristics->supported.size(), 1u)
        << graph->spec().name << ": " << heuristics->proposed
        << " engine configs proposed, none supported";
    std::string engines;
    for (const EngineConfig &config : heuristics->supported) {
      EXPECT_LE(config.sharedMemoryBytes,
                description.maxSharedMemoryPerBlockOptin)
          << config.label;
      EXPECT_GE(config.workspaceBytes, 0) << config.label;
      Expected<ExecutionPlan> plan = ExecutionPlan::finalize(config, *device);
      ASSERT_FALSE(plan.ok()) << config.label << " finalised without a GPU";
      EXPECT_EQ(plan.status().message(), config.label + kStubFailure);
      engines += " " + std::to_string(config.engineIndex) + "/" +
                 std::to_string(config.sharedMemoryBytes / 1024) + "KiB";
    }
    std::printf("[ cudnn    ] %s %s: %lld configs proposed, %zu supported "
                "(engine/smem:%s)\n",
                deviceName, graph->spec().name.c_str(),
                static_cast<long long>(heuristics->proposed),
                heuristics->supported.size(), engines.c_str());
  }
}

std::string devicelessName(
    const ::testing::TestParamInfo<DevicelessPlanningTest::ParamType> &info) {
  const auto &[device, shape] = info.param;
  return std::string(device) + "_B" + std::to_string(shape.B) + "_H" +
         std::to_string(shape.H) + "_Hkv" + std::to_string(shape.Hkv) + "_T" +
         std::to_string(shape.T) + "_D" + std::to_string(shape.D);
}

INSTANTIATE_TEST_SUITE_P(
    TrainingShapes, DevicelessPlanningTest,
    ::testing::Combine(::testing::Values("h100", "a100"),
                       ::testing::Values(Shape{4, 12, 4, 1024, 64},
                                         Shape{2, 16, 2, 2048, 128})),
    devicelessName);

TEST(DevicelessPlanning, CompileReportsEveryConfigThatFailed) {
  // A shape for which heuristics keep a single A100 engine config, so that
  // the whole message is known.
  if (std::optional<std::string> reason = devicelessUnavailable())
    GTEST_SKIP() << *reason;
  const DeviceDescription description = readDeviceDescription("a100");
  ASSERT_FALSE(description.json.empty());
  Expected<DeviceProperties> device =
      DeviceProperties::fromJson(description.json);
  ASSERT_TRUE(device.ok()) << device.status().message();
  Expected<CompiledGraph> compiled = CompiledGraph::compile(
      sdpaForwardGraph(2, 16, 2, 2048, 128, 0.088f), *device);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.status().message(),
            std::string("sdpa_fwd: no execution plan finalised: sdpa_fwd: "
                        "engine config 0 (engine 1)") +
                kStubFailure);
}

TEST(DevicelessPlanning, MismatchedMatmulTypesFindNoEngine) {
  // cuDNN finalises the graph and leaves the type check to each engine's
  // support check: with P in fp32 and V in bf16 every flash engine declines
  // ("A and B need to have the same datatype in the matmul", a warning in
  // cuDNN's log).
  if (std::optional<std::string> reason = devicelessUnavailable())
    GTEST_SKIP() << *reason;
  const DeviceDescription description = readDeviceDescription("h100");
  ASSERT_FALSE(description.json.empty());
  Expected<DeviceProperties> device =
      DeviceProperties::fromJson(description.json);
  ASSERT_TRUE(device.ok()) << device.status().message();
  GraphSpec spec = sdpaForwardGraph(1, 4, 4, 64, 64, 0.125f);
  for (TensorSpec &tensor : spec.tensors)
    if (tensor.name == "probs")
      tensor.dataType = DataType::Float;
  Expected<CompiledGraph> compiled =
      CompiledGraph::compile(std::move(spec), *device);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.status().message(),
            "sdpa_fwd: no engine config supports the graph (5 proposed)");
}

} // namespace
} // namespace gptc::cuda::cudnn
