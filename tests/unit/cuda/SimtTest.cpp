//===- SimtTest.cpp - the SIMT emulator and the emulated device -----------===//
//
// The emulator is what every CUDA kernel test stands on: these tests check
// its CUDA semantics one by one against plain host computations, and that
// it refuses what a GPU would hang or fail on.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Device.h"
#include "backends/cuda/Intrinsics.h"
#include "backends/cuda/Launch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace gptc::cuda;

namespace {

__global__ void shuffleKernel(const int *in, int *xorOut, int *downOut,
                              int *upOut, int *idxOut) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int lane = threadIdx.x % 32;
  xorOut[i] = __shfl_xor_sync(0xffffffffu, in[i], 5);
  downOut[i] = __shfl_down_sync(0xffffffffu, in[i], 3);
  upOut[i] = __shfl_up_sync(0xffffffffu, in[i], 2);
  idxOut[i] = __shfl_sync(0xffffffffu, in[i], (lane * 7) % 32);
}

TEST(Simt, WarpShufflesMoveValuesBetweenLanes) {
  const int n = 128; // 2 blocks of 2 warps
  std::vector<int> in(n), xorOut(n), downOut(n), upOut(n), idxOut(n);
  for (int i = 0; i < n; ++i)
    in[i] = 1000 + i * 3;
  launch("shuffle", shuffleKernel, dim3(2), dim3(64), 0, in.data(),
         xorOut.data(), downOut.data(), upOut.data(), idxOut.data());
  for (int i = 0; i < n; ++i) {
    const int lane = i % 32, warpBase = i - lane;
    EXPECT_EQ(xorOut[i], in[warpBase + (lane ^ 5)]) << i;
    EXPECT_EQ(downOut[i], lane + 3 < 32 ? in[i + 3] : in[i]) << i;
    EXPECT_EQ(upOut[i], lane >= 2 ? in[i - 2] : in[i]) << i;
    EXPECT_EQ(idxOut[i], in[warpBase + (lane * 7) % 32]) << i;
  }
}

/// Each block sums its slice through shared memory in log2(256) barrier
/// steps; a barrier that let a thread run ahead would read stale partials.
__global__ void blockSumKernel(const float *x, float *sums, int n) {
  GPTC_SHARED_ARRAY(float, partial, 256);
  const int begin = blockIdx.x * n;
  float sum = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    sum += x[begin + i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride)
      partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    sums[blockIdx.x] = partial[0];
}

TEST(Simt, SharedMemoryAndBarriersGiveExactBlockSums) {
  const int blocks = 5, n = 1000;
  std::vector<float> x(blocks * n), sums(blocks);
  for (int i = 0; i < blocks * n; ++i)
    x[i] = float(i % 17); // small integers: every order sums exactly
  launch("blockSum", blockSumKernel, dim3(blocks), dim3(256), 0, x.data(),
         sums.data(), n);
  for (int b = 0; b < blocks; ++b) {
    double expected = 0;
    for (int i = 0; i < n; ++i)
      expected += x[b * n + i];
    EXPECT_EQ(sums[b], float(expected)) << b;
  }
}

/// One warp computes D = A·B + C from fragments in the PTX layout.
__global__ void mmaKernel(const float *a, const float *b, const float *c,
                          float *d) {
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  auto at = [&](int row, int k) { return a[row * 16 + k]; };
  auto bt = [&](int k, int col) { return b[k * 8 + col]; };
  const uint32_t fragA[4] = {
      packBf16x2(at(g, 2 * t), at(g, 2 * t + 1)),
      packBf16x2(at(g + 8, 2 * t), at(g + 8, 2 * t + 1)),
      packBf16x2(at(g, 2 * t + 8), at(g, 2 * t + 9)),
      packBf16x2(at(g + 8, 2 * t + 8), at(g + 8, 2 * t + 9))};
  const uint32_t fragB[2] = {packBf16x2(bt(2 * t, g), bt(2 * t + 1, g)),
                             packBf16x2(bt(2 * t + 8, g), bt(2 * t + 9, g))};
  float acc[4] = {c[g * 8 + 2 * t], c[g * 8 + 2 * t + 1],
                  c[(g + 8) * 8 + 2 * t], c[(g + 8) * 8 + 2 * t + 1]};
  mmaBf16(acc, fragA, fragB);
  d[g * 8 + 2 * t] = acc[0];
  d[g * 8 + 2 * t + 1] = acc[1];
  d[(g + 8) * 8 + 2 * t] = acc[2];
  d[(g + 8) * 8 + 2 * t + 1] = acc[3];
}

TEST(Simt, MmaBf16MatchesAPlainProductInTheFragmentLayout) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> a(16 * 16), b(16 * 8), c(16 * 8), d(16 * 8);
  // bf16-representable inputs, so that the product is exact in double.
  for (float &x : a)
    x = bf16ToFloat(floatToBf16(dist(rng)));
  for (float &x : b)
    x = bf16ToFloat(floatToBf16(dist(rng)));
  for (float &x : c)
    x = dist(rng);
  launch("mma", mmaKernel, dim3(1), dim3(32), 0, a.data(), b.data(), c.data(),
         d.data());
  for (int row = 0; row < 16; ++row)
    for (int col = 0; col < 8; ++col) {
      double expected = c[row * 8 + col];
      for (int k = 0; k < 16; ++k)
        expected += double(a[row * 16 + k]) * b[k * 8 + col];
      EXPECT_NEAR(d[row * 8 + col], expected, 1e-5) << row << "," << col;
    }
}

TEST(Simt, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between two bf16 values: ties go to the even one.
  EXPECT_EQ(floatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(floatToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(floatToBf16(-2.0f), 0xc000);
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(NAN))));
  EXPECT_EQ(packBf16x2(1.0f, -2.0f), 0xc0003f80u);
}

__global__ void atomicKernel(float *total, int *count) {
  atomicAdd(total, 0.5f);
  atomicAdd(count, 1);
}

TEST(Simt, AtomicsAddAcrossConcurrentBlocks) {
  float total = 0;
  int count = 0;
  launch("atomic", atomicKernel, dim3(64), dim3(96), 0, &total, &count);
  EXPECT_EQ(count, 64 * 96);
  EXPECT_EQ(total, 0.5f * 64 * 96);
}

__global__ void readSharedKernel(float *out) {
  out[threadIdx.x] = dynamicShared<float>()[threadIdx.x];
}

TEST(Simt, DynamicSharedMemoryStartsAsNaN) {
  std::vector<float> out(32, 0.0f);
  launch("readShared", readSharedKernel, dim3(1), dim3(32), 32 * sizeof(float),
         out.data());
  for (float x : out)
    EXPECT_TRUE(std::isnan(x));
}

/// Block 0 fills its static shared array; every block then reads it.
__global__ void staleSharedKernel(float *out) {
  GPTC_SHARED_ARRAY(float, values, 32);
  if (blockIdx.x == 0)
    values[threadIdx.x] = 1.0f;
  out[blockIdx.x * 32 + threadIdx.x] = values[threadIdx.x];
}

TEST(Simt, StaticSharedMemoryStartsAsNaNInEveryBlock) {
  // Unpoisoned, block 1 would read block 0's values (when the two run on
  // one OS thread, as two blocks may on one SM) or zeros.
  std::vector<float> out(64, 0.0f);
  launch("staleShared", staleSharedKernel, dim3(2), dim3(32), 0, out.data());
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(out[i], 1.0f) << i;
    EXPECT_TRUE(std::isnan(out[32 + i])) << i;
  }
}

/// Writes one element past the end of the first of two shared arrays.
__global__ void sharedOverflowKernel(float *out) {
  GPTC_SHARED_ARRAY(float, first, 32);
  GPTC_SHARED_ARRAY(float, second, 32);
  first[threadIdx.x + 1] = 1.0f; // thread 31 writes first[32]: the bug
  second[threadIdx.x] = 2.0f;
  __syncthreads();
  out[threadIdx.x] = first[threadIdx.x] + second[threadIdx.x];
}

TEST(SimtDeathTest, WritePastAStaticSharedArrayAborts) {
  std::vector<float> out(32);
  EXPECT_DEATH(launch("sharedOverflow", sharedOverflowKernel, dim3(1), dim3(32),
                      0, out.data()),
               "kernel 'sharedOverflow' block \\(0,0,0\\): a write past the "
               "end of static shared array 'first' \\(128 bytes\\)");
}

__global__ void dynamicOverflowKernel(float *out) {
  float *values = dynamicShared<float>();
  values[threadIdx.x + 1] = out[threadIdx.x]; // thread 31 writes values[32]
}

TEST(SimtDeathTest, WritePastDynamicSharedMemoryAborts) {
  std::vector<float> out(32, 1.0f);
  EXPECT_DEATH(launch("dynamicOverflow", dynamicOverflowKernel, dim3(1),
                      dim3(32), 32 * sizeof(float), out.data()),
               "kernel 'dynamicOverflow' block \\(0,0,0\\): a write past "
               "the end of the 128 bytes of dynamic shared memory");
}

/// Reads the neighbouring thread's shared slot without the __syncthreads
/// that would make its write visible: a race.
__global__ void missingBarrierKernel(int *out) {
  GPTC_SHARED_ARRAY(int, slots, 64);
  slots[threadIdx.x] = int(blockIdx.x * 1000 + threadIdx.x);
  out[blockIdx.x * 64 + threadIdx.x] =
      threadIdx.x > 0 ? slots[threadIdx.x - 1] : -1;
}

TEST(Simt, AlternatingThreadOrderExposesAMissingBarrier) {
  // Block 0 runs its threads in ascending order, so each reader runs after
  // the writer it depends on and the race goes unseen; block 1 runs them
  // descending and reads the slots before they are written.
  std::vector<int> out(128);
  launch("missingBarrier", missingBarrierKernel, dim3(2), dim3(64), 0,
         out.data());
  int wrongInBlock[2] = {0, 0};
  for (int b = 0; b < 2; ++b)
    for (int t = 1; t < 64; ++t)
      wrongInBlock[b] += out[b * 64 + t] != b * 1000 + t - 1;
  EXPECT_EQ(wrongInBlock[0], 0);
  EXPECT_EQ(wrongInBlock[1], 63);
}

__global__ void divergentBarrierKernel(float *out) {
  if (threadIdx.x < 16) {
    __syncthreads();
    out[threadIdx.x] = 1.0f;
  }
}

__global__ void partialWarpShuffleKernel(float *out) {
  if (threadIdx.x % 32 < 8)
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

TEST(SimtDeathTest, DivergentBarrierAborts) {
  std::vector<float> out(64);
  EXPECT_DEATH(launch("divergent", divergentBarrierKernel, dim3(1), dim3(64), 0,
                      out.data()),
               "kernel 'divergent' block \\(0,0,0\\): __syncthreads was "
               "reached while other threads of the block had exited");
}

TEST(SimtDeathTest, ShuffleWithExitedLanesAborts) {
  std::vector<float> out(64);
  EXPECT_DEATH(launch("partial", partialWarpShuffleKernel, dim3(1), dim3(64), 0,
                      out.data()),
               "warp collective .* was reached while other lanes of the "
               "warp had exited");
}

__global__ void addOneKernel(float *x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    x[i] += 1.0f;
}

TEST(EmulatedDevice, GraphsRecordLaunchesAndReplayThem) {
  ASSERT_TRUE(initDevice().ok());
  const int n = 300;
  float *x = static_cast<float *>(deviceAlloc(n * sizeof(float), "x"));
  fillZero(x, n * sizeof(float));
  Graph::beginCapture();
  launch("addOne", addOneKernel, blocksFor(n, 128), dim3(128), 0, x, n);
  launch("addOne", addOneKernel, blocksFor(n, 128), dim3(128), 0, x, n);
  Graph graph = Graph::endCapture();
  std::vector<float> host(n);
  copyToHost(host.data(), x, n * sizeof(float));
  EXPECT_EQ(host[0], 0.0f) << "capturing must not run the launches";
  graph.replay();
  graph.replay();
  copyToHost(host.data(), x, n * sizeof(float));
  for (float v : host)
    EXPECT_EQ(v, 4.0f);
  deviceFree(x);
}

TEST(EmulatedDeviceDeathTest, HostCopyDuringCaptureFails) {
  std::vector<float> host(4);
  float *x = static_cast<float *>(deviceAlloc(sizeof(float) * 4, "x"));
  EXPECT_DEATH(
      {
        Graph::beginCapture();
        copyToHost(host.data(), x, sizeof(float) * 4);
      },
      "a copy to the host while a CUDA graph is being captured");
  deviceFree(x);
}

TEST(EmulatedDeviceDeathTest, AllocationDuringCaptureFails) {
  EXPECT_DEATH(
      {
        Graph::beginCapture();
        deviceAlloc(64, "x");
      },
      "an allocation while a CUDA graph is being captured");
}

__global__ void copyKernel(const float *in, float *out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) // one past the end: the bug
    out[i] = in[i];
}

TEST(EmulatedDeviceDeathTest, ReadPastTheEndOfAnAllocationAborts) {
  // 100 floats end on a 16-byte boundary, so the allocation's end is the
  // guard page itself.
  const int n = 100;
  float *in = static_cast<float *>(deviceAlloc(n * sizeof(float), "in"));
  float *out = static_cast<float *>(deviceAlloc(2 * n * sizeof(float), "out"));
  EXPECT_DEATH(
      launch("copyPastEnd", copyKernel, dim3(1), dim3(128), 0, in, out, n),
      "kernel 'copyPastEnd' block \\(0,0,0\\) thread "
      "\\(100,0,0\\): invalid memory access at .* \\(0 bytes past "
      "the end of the 400-byte device allocation 'in'\\)");
  deviceFree(in);
  deviceFree(out);
}

TEST(EmulatedDeviceDeathTest, WritePastTheEndOfAnAllocationAborts) {
  const int n = 100;
  float *in = static_cast<float *>(deviceAlloc(2 * n * sizeof(float), "in"));
  float *out = static_cast<float *>(deviceAlloc(n * sizeof(float), "out"));
  fillZero(in, 2 * n * sizeof(float));
  EXPECT_DEATH(
      launch("copyPastEnd", copyKernel, dim3(1), dim3(128), 0, in, out, n),
      "kernel 'copyPastEnd' .*: invalid memory access .*device "
      "allocation 'out'");
  deviceFree(in);
  deviceFree(out);
}

TEST(EmulatedDevice, AllocationsAreAlignedForFloat4AndEndAtTheGuard) {
  // Sizes that are not a multiple of 16 bytes keep the float4 alignment the
  // kernels rely on: the guard starts at the end rounded up to 16 bytes.
  for (size_t bytes : {size_t(1), size_t(12), size_t(16), size_t(4100)}) {
    auto *p = static_cast<unsigned char *>(deviceAlloc(bytes, "x"));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << bytes;
    p[bytes - 1] = 1; // the last byte is writable
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p + bytes + 15) / 16 * 16 % 4096, 0u)
        << bytes;
    deviceFree(p);
  }
}

TEST(EmulatedDevice, AllocationsArePoisoned) {
  float *x = static_cast<float *>(deviceAlloc(8 * sizeof(float), "x"));
  std::vector<float> host(8);
  copyToHost(host.data(), x, sizeof(float) * 8);
  for (float v : host)
    EXPECT_TRUE(std::isnan(v));
  deviceFree(x);
}

} // namespace
