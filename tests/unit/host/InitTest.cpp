//===- InitTest.cpp - nanochat's initial weights --------------------------===//

#include "backends/host/Init.h"

#include "backends/host/HostCommon.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace gptc;
using namespace gptc::host;

namespace {

constexpr int64_t kC = 64, kV = 256;

// A model with C = 64, V = 256, 4C = 256, and a [C, 4C] matrix that is not a
// c_proj (fan_out < fan_in).
const BufferInfo kParams[] = {
    {"transformer.wte.weight", ElementType::F32, 2, {kV, kC}, 0},
    {"transformer.h.0.attn.c_q.weight", ElementType::F32, 2, {kC, kC}, 65536},
    {"transformer.h.0.attn.c_proj.weight", ElementType::F32, 2, {kC, kC}, 81920},
    {"transformer.h.0.mlp.c_fc.weight", ElementType::F32, 2, {4 * kC, kC}, 98304},
    {"transformer.h.0.mlp.c_proj.weight", ElementType::F32, 2, {kC, 4 * kC}, 163840},
    {"transformer.h.0.mlp.c_down.weight", ElementType::F32, 2, {kC, 4 * kC}, 229376},
    {"lm_head.weight", ElementType::F32, 2, {kV, kC}, 294912},
};
const ProgramInfo kProgram = {
    "p", "{}", 360448, 0, kParams, std::size(kParams), nullptr, 0, nullptr, 0};

/// The standard deviation of parameter `index` around 0.
double rms(const char *params, size_t index) {
  const BufferInfo &param = kParams[index];
  const float *values = reinterpret_cast<const float *>(params + param.offset);
  double squares = 0;
  for (int64_t i = 0; i < param.numel(); ++i)
    squares += double(values[i]) * values[i];
  return std::sqrt(squares / double(param.numel()));
}

TEST(Init, NanochatClassicStandardDeviations) {
  AlignedBuffer params = allocateBuffer(kProgram.paramBytes);
  ASSERT_TRUE(initParameters(kProgram, 42, params.get()).ok());
  EXPECT_NEAR(rms(params.get(), 0), 1.0, 0.02);      // wte: N(0, 1)
  EXPECT_NEAR(rms(params.get(), 1), 1.0 / 8, 0.005); // 1/sqrt(64)
  EXPECT_EQ(rms(params.get(), 2), 0.0);              // attn.c_proj
  EXPECT_NEAR(rms(params.get(), 3), 1.0 / 8, 0.005); // min(1, sqrt(4)) = 1
  EXPECT_EQ(rms(params.get(), 4), 0.0);              // mlp.c_proj
  EXPECT_NEAR(rms(params.get(), 5), 1.0 / 16 * 0.5,
              0.002);                   // 1/sqrt(256) * sqrt(1/4)
  EXPECT_EQ(rms(params.get(), 6), 0.0); // lm_head
}

TEST(Init, DeterministicPerSeedAndIndependentOfTheLayout) {
  AlignedBuffer a = allocateBuffer(kProgram.paramBytes);
  AlignedBuffer b = allocateBuffer(kProgram.paramBytes);
  AlignedBuffer c = allocateBuffer(kProgram.paramBytes);
  ASSERT_TRUE(initParameters(kProgram, 1, a.get()).ok());
  ASSERT_TRUE(initParameters(kProgram, 1, b.get()).ok());
  ASSERT_TRUE(initParameters(kProgram, 2, c.get()).ok());
  EXPECT_EQ(std::memcmp(a.get(), b.get(), kProgram.paramBytes), 0);
  EXPECT_NE(std::memcmp(a.get(), c.get(), kProgram.paramBytes), 0);

  // c_q alone, at another offset, gets the same values.
  BufferInfo moved = kParams[1];
  moved.offset = 0;
  ProgramInfo alone = {"p", "{}", 16384, 0, &moved, 1, nullptr, 0, nullptr, 0};
  AlignedBuffer d = allocateBuffer(alone.paramBytes);
  ASSERT_TRUE(initParameters(alone, 1, d.get()).ok());
  EXPECT_EQ(std::memcmp(d.get(), a.get() + kParams[1].offset, 16384), 0);
}

TEST(Init, OnlyMatrices) {
  const BufferInfo params[] = {{"transformer.h.0.norm", ElementType::F32, 1, {4}, 0}};
  ProgramInfo program = {"p", "{}", 16, 0, params, 1, nullptr, 0, nullptr, 0};
  AlignedBuffer buffer = allocateBuffer(16);
  Status status = initParameters(program, 1, buffer.get());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "cannot initialise parameter "
                              "'transformer.h.0.norm' [4]: nanochat's "
                              "initialisation knows only matrices");
}

} // namespace
