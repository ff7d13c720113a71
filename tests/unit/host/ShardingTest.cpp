//===- ShardingTest.cpp - parameter shards and the sharded optimizer ------===//

#include "backends/common/Sharding.h"
#include "backends/host/Optimizer.h"

#include "FakeProgram.h"
#include "backends/host/HostCommon.h"
#include "backends/host/Random.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace gptc;
using namespace gptc::host;

namespace {

TEST(Sharding, ContiguousWholeParametersOfAboutEqualBytes) {
  // 10 equal parameters on 3 ranks: 3, 4, 3 (middles at 0.5, 1.5, ... of
  // 10; shares end at 3.33 and 6.67).
  std::vector<int64_t> equal(10, 100);
  EXPECT_EQ(shardParameters(equal, 3), (std::vector<size_t>{0, 3, 7, 10}));
  EXPECT_EQ(shardParameters(equal, 1), (std::vector<size_t>{0, 10}));
  // A parameter whose middle lies in the second half goes to rank 1 even
  // though it is most of the bytes.
  EXPECT_EQ(shardParameters({10, 10, 1000}, 2), (std::vector<size_t>{0, 2, 3}));
  // More ranks than parameters: some own none; every parameter has one
  // owner.
  std::vector<size_t> sparse = shardParameters({5, 5}, 4);
  ASSERT_EQ(sparse.size(), 5u);
  EXPECT_EQ(sparse.front(), 0u);
  EXPECT_EQ(sparse.back(), 2u);
  for (size_t r = 0; r + 1 < sparse.size(); ++r)
    EXPECT_LE(sparse[r], sparse[r + 1]);
}

/// Random gradients for every parameter of the fake program.
AlignedBuffer randomGradients(const ProgramInfo &program, uint64_t seed) {
  AlignedBuffer grads = allocateBuffer(program.paramBytes);
  Rng rng(seed);
  for (size_t i = 0; i < program.numParams; ++i) {
    float *g = view<float>(grads.get(), program.params[i].offset);
    for (int64_t k = 0; k < program.params[i].numel(); ++k)
      g[k] = float(rng.below(2001)) * 1e-3f - 1.0f;
  }
  return grads;
}

TEST(Sharding, ShardedOptimizersUpdateTheirParametersAsTheWholeOne) {
  const ProgramInfo &program = train_step_program;
  Expected<Optimizer> whole =
      Optimizer::create(program, OptimizerKind::Muon, 8, 1.0);
  ASSERT_TRUE(whole.ok());
  const ParamRange halves[] = {{0, 2}, {2, program.numParams}};
  std::vector<Optimizer> shards;
  for (ParamRange range : halves) {
    Expected<Optimizer> shard =
        Optimizer::create(program, OptimizerKind::Muon, 8, 1.0, range);
    ASSERT_TRUE(shard.ok());
    shards.push_back(std::move(*shard));
  }
  AlignedBuffer expected = allocateBuffer(program.paramBytes);
  AlignedBuffer sharded = allocateBuffer(program.paramBytes);
  for (int64_t step = 0; step < 3; ++step) {
    AlignedBuffer grads = randomGradients(program, uint64_t(step));
    whole->step(expected.get(), grads.get(), 1.0, step);
    for (Optimizer &shard : shards)
      shard.step(sharded.get(), grads.get(), 1.0, step);
  }
  EXPECT_EQ(
      std::memcmp(expected.get(), sharded.get(), size_t(program.paramBytes)),
      0);

  // Each shard's state is its slice of the whole state's layout; the rest
  // of its download is zero until a gather fills it in.
  std::vector<float> all = whole->downloadState();
  for (size_t s = 0; s < 2; ++s) {
    auto [begin, end] = whole->stateRange(halves[s]);
    EXPECT_EQ(shards[s].stateRange(halves[s]), std::make_pair(begin, end));
    std::vector<float> mine = shards[s].downloadState();
    ASSERT_EQ(mine.size(), all.size());
    for (int64_t k = 0; k < int64_t(all.size()); ++k)
      ASSERT_EQ(mine[k], k >= begin && k < end ? all[k] : 0.0f) << k;
  }
  std::vector<float> gathered;
  shards[1].setStateGather([&](std::vector<float> &values) {
    std::vector<float> first = shards[0].downloadState();
    auto [begin, end] = shards[0].stateRange(halves[0]);
    std::copy(first.begin() + begin, first.begin() + end,
              values.begin() + begin);
  });
  EXPECT_EQ(shards[1].downloadState(), all);
}

TEST(Sharding, ClippingFromShardsEqualsClippingTheWhole) {
  const ProgramInfo &program = train_step_program;
  AlignedBuffer whole = randomGradients(program, 7);
  AlignedBuffer sharded = randomGradients(program, 7);
  double norm = clipGradNorm(program, whole.get(), 1.0);
  ASSERT_GT(norm, 1.0);
  // Two owners' sums of squares, combined (the other entries are zero).
  const ParamRange halves[] = {{0, 1}, {1, program.numParams}};
  std::vector<double> squares(program.numParams, 0.0);
  for (ParamRange range : halves) {
    std::vector<double> part = gradientSquares(program, sharded.get(), range);
    for (size_t i = 0; i < squares.size(); ++i)
      squares[i] += part[i];
  }
  for (ParamRange range : halves)
    EXPECT_EQ(clipToNorm(program, sharded.get(), squares, 1.0, range), norm);
  EXPECT_EQ(std::memcmp(whole.get(), sharded.get(), size_t(program.paramBytes)),
            0);
}

} // namespace
