//===- DecodeTest.cpp - tests of the decode-time ops on the GPU -----------===//
//
// gptc::cuda's ropeAt, kvAppend(Bf16), cachedAttention(Bf16) and kvAdvance,
// run on the SIMT emulator, against their gptc::cpu twins on random inputs:
// ragged per-row lengths from 0 to Cap − T, float and bfloat16 caches, GQA
// groups, single-token steps and prefill chunks, one and several key
// splits, and a decode step captured once into a graph and replayed.
//
//===----------------------------------------------------------------------===//

#include "backends/common/BFloat16.h"
#include "backends/cpu/Kernels.h"
#include "backends/cuda/Device.h"
#include "backends/cuda/Ops.h"
#include "tests/unit/cpu/Reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace gptc::cuda {
namespace {

using cpu::ref::allClose;
using cpu::ref::randomFloats;
using cpu::ref::randomInts;
using cpu::ref::widen;

constexpr int64_t kLayers = 2;
constexpr int32_t kLayer = 1;

/// A decode-time problem: R rows of a cache [kLayers, R, Cap, Hkv, D],
/// G = H / Hkv query heads per kv head, T new tokens per row.
struct Shape {
  int64_t R, Cap, Hkv, G, D, T;

  int64_t H() const { return Hkv * G; }
  int64_t cacheSize() const { return kLayers * R * Cap * Hkv * D; }
  std::string str() const {
    return "R = " + std::to_string(R) + ", Cap = " + std::to_string(Cap) +
           ", Hkv = " + std::to_string(Hkv) + ", G = " + std::to_string(G) +
           ", D = " + std::to_string(D) + ", T = " + std::to_string(T);
  }
};

/// Per-row lengths in [0, Cap − T], ragged: the rows cycle, starting at
/// `variant`, through Cap − T, 0 and a random length.
std::vector<int32_t> raggedLengths(const Shape &s, int variant, uint32_t seed) {
  std::vector<int32_t> lengths =
      randomInts(s.R, seed, 0, int32_t(s.Cap - s.T + 1));
  for (int64_t r = 0; r < s.R; ++r) {
    if ((r + variant) % 3 == 0)
      lengths[r] = int32_t(s.Cap - s.T);
    else if ((r + variant) % 3 == 1)
      lengths[r] = 0;
  }
  return lengths;
}

/// Index of the first element where a and b differ bitwise, or -1.
template <typename Element>
int64_t firstDifference(const std::vector<Element> &a,
                        const std::vector<Element> &b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(Element)) != 0)
      return int64_t(i);
  return -1;
}

std::vector<uint16_t> toBf16(const std::vector<float> &values) {
  std::vector<uint16_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    bits[i] = f32ToBf16(values[i]);
  return bits;
}

/// The float and bfloat16 versions of the ops under test, by cache type.
void appendCpu(const std::vector<int32_t> &lengths,
               const std::vector<float> &entries, std::vector<float> &cache,
               const Shape &s) {
  cpu::kvAppend(lengths.data(), entries.data(), cache.data(), kLayers, s.R,
                s.Cap, s.Hkv, s.D, s.T, kLayer);
}
void appendCpu(const std::vector<int32_t> &lengths,
               const std::vector<float> &entries, std::vector<uint16_t> &cache,
               const Shape &s) {
  cpu::kvAppendBf16(lengths.data(), entries.data(), cache.data(), kLayers, s.R,
                    s.Cap, s.Hkv, s.D, s.T, kLayer);
}
void appendGpu(const std::vector<int32_t> &lengths,
               const std::vector<float> &entries, std::vector<float> &cache,
               const Shape &s) {
  kvAppend(lengths.data(), entries.data(), cache.data(), kLayers, s.R, s.Cap,
           s.Hkv, s.D, s.T, kLayer);
}
void appendGpu(const std::vector<int32_t> &lengths,
               const std::vector<float> &entries, std::vector<uint16_t> &cache,
               const Shape &s) {
  kvAppendBf16(lengths.data(), entries.data(), cache.data(), kLayers, s.R,
               s.Cap, s.Hkv, s.D, s.T, kLayer);
}
void attendCpu(const std::vector<float> &q, const std::vector<float> &k,
               const std::vector<float> &v, const std::vector<int32_t> &lengths,
               std::vector<float> &out, const Shape &s, float scale) {
  cpu::cachedAttention(q.data(), k.data(), v.data(), lengths.data(), out.data(),
                       kLayers, s.R, s.Cap, s.Hkv, s.D, s.T, s.H(), kLayer,
                       scale);
}
void attendCpu(const std::vector<float> &q, const std::vector<uint16_t> &k,
               const std::vector<uint16_t> &v,
               const std::vector<int32_t> &lengths, std::vector<float> &out,
               const Shape &s, float scale) {
  cpu::cachedAttentionBf16(q.data(), k.data(), v.data(), lengths.data(),
                           out.data(), kLayers, s.R, s.Cap, s.Hkv, s.D, s.T,
                           s.H(), kLayer, scale);
}
void attendGpu(const std::vector<float> &q, const std::vector<float> &k,
               const std::vector<float> &v, const std::vector<int32_t> &lengths,
               std::vector<float> &out, const Shape &s, float scale) {
  cachedAttention(q.data(), k.data(), v.data(), lengths.data(), out.data(),
                  kLayers, s.R, s.Cap, s.Hkv, s.D, s.T, s.H(), kLayer, scale);
}
void attendGpu(const std::vector<float> &q, const std::vector<uint16_t> &k,
               const std::vector<uint16_t> &v,
               const std::vector<int32_t> &lengths, std::vector<float> &out,
               const Shape &s, float scale) {
  cachedAttentionBf16(q.data(), k.data(), v.data(), lengths.data(), out.data(),
                      kLayers, s.R, s.Cap, s.Hkv, s.D, s.T, s.H(), kLayer,
                      scale);
}

/// A cache whose every slot is NaN, then slots 0 .. lengths[r] + T − 1 of
/// layer kLayer random: attention must read no other slot.
template <typename Element>
std::vector<Element> poisonedCache(const Shape &s,
                                   const std::vector<int32_t> &lengths,
                                   uint32_t seed);
template <>
std::vector<float> poisonedCache(const Shape &s,
                                 const std::vector<int32_t> &lengths,
                                 uint32_t seed) {
  std::vector<float> cache(s.cacheSize(),
                           std::numeric_limits<float>::quiet_NaN());
  const std::vector<float> values = randomFloats(s.cacheSize(), seed);
  const int64_t slotSize = s.Hkv * s.D;
  for (int64_t r = 0; r < s.R; ++r) {
    const int64_t first = (kLayer * s.R + r) * s.Cap * slotSize;
    std::copy(values.begin() + first,
              values.begin() + first + (lengths[r] + s.T) * slotSize,
              cache.begin() + first);
  }
  return cache;
}
template <>
std::vector<uint16_t> poisonedCache(const Shape &s,
                                    const std::vector<int32_t> &lengths,
                                    uint32_t seed) {
  return toBf16(poisonedCache<float>(s, lengths, seed));
}

/// The shapes the ops are checked on: every combination of the R, Cap,
/// Hkv, G, T and D below, D varying fastest.
std::vector<Shape> sweepShapes() {
  std::vector<Shape> shapes;
  for (int64_t R : {1, 3})
    for (int64_t Cap : {40, 300})
      for (int64_t Hkv : {1, 2})
        for (int64_t G : {1, 3})
          for (int64_t T : {1, 5})
            for (int64_t D : {16, 64, 128})
              shapes.push_back({R, Cap, Hkv, G, D, T});
  return shapes;
}

template <typename Element> void checkAppend(uint32_t seed) {
  int variant = 0;
  for (const Shape &s : sweepShapes()) {
    if (s.G != 1)
      continue; // appends do not involve query heads
    const std::vector<int32_t> lengths = raggedLengths(s, variant++, ++seed);
    const std::vector<float> entries =
        randomFloats(s.R * s.T * s.Hkv * s.D, ++seed);
    std::vector<Element> want;
    if constexpr (std::is_same_v<Element, float>)
      want = randomFloats(s.cacheSize(), ++seed);
    else
      want = toBf16(randomFloats(s.cacheSize(), ++seed));
    std::vector<Element> got = want;
    appendCpu(lengths, entries, want, s);
    appendGpu(lengths, entries, got, s);
    EXPECT_EQ(firstDifference(got, want), -1) << s.str();
  }
}

TEST(CudaDecode, KvAppendWritesExactlyTheNewSlots) {
  // Whole caches, untouched slots included, bit for bit; the bf16 cache
  // rounds the same way (to nearest even) on both sides.
  checkAppend<float>(10);
  checkAppend<uint16_t>(20);
}

TEST(CudaDecode, KvAppendLeavesRowsThatDoNotFit) {
  // The host checks the capacity before appending; the GPU kernel still
  // never writes past a row's end: a row that would overflow (or has a
  // negative length) is left unchanged. (The CPU aborts instead.)
  const Shape s = {3, 40, 2, 1, 16, 5};
  const std::vector<int32_t> lengths = {36, -1, 40};
  const std::vector<float> entries = randomFloats(s.R * s.T * s.Hkv * s.D, 30);
  const std::vector<float> before = randomFloats(s.cacheSize(), 31);
  std::vector<float> cache = before;
  appendGpu(lengths, entries, cache, s);
  EXPECT_EQ(firstDifference(cache, before), -1);
}

TEST(CudaDecode, KvAdvance) {
  std::vector<int32_t> lengths = randomInts(300, 40, 0, 1000);
  std::vector<int32_t> want = lengths;
  cpu::kvAdvance(want.data(), int64_t(want.size()), 7);
  kvAdvance(lengths.data(), int64_t(lengths.size()), 7);
  EXPECT_EQ(lengths, want);
}

TEST(CudaDecode, RopeAtMatchesCpu) {
  // Same float32 angle, cos/sin and bfloat16 rounding on both sides (on a
  // GPU sincosf differs from the host's by an ulp or two): atol 1e-6 on
  // outputs of magnitude ≤ 1.5.
  uint32_t seed = 50;
  for (int64_t R : {1, 3})
    for (int64_t T : {1, 5})
      for (int64_t D : {16, 64, 128})
        for (int32_t roundBf16 : {0, 1}) {
          const int64_t H = 3;
          std::vector<int32_t> positions = randomInts(R, ++seed, 0, 5000);
          positions[0] = 0;
          const std::vector<float> x = randomFloats(R * T * H * D, ++seed);
          std::vector<float> want(x.size()), got(x.size());
          cpu::ropeAt(x.data(), positions.data(), want.data(), R, T, H, D,
                      10000.0f, roundBf16);
          ropeAt(x.data(), positions.data(), got.data(), R, T, H, D, 10000.0f,
                 roundBf16);
          EXPECT_TRUE(allClose(got, widen(want), 1e-6, 0.0))
              << "R = " << R << ", T = " << T << ", D = " << D
              << ", roundBf16 = " << roundBf16;
        }
}

/// Runs cachedAttention on both sides for shape s; the kernels differ in
/// summation order (key splits, lane reductions) and exp implementation:
/// atol 2e-6, rtol 1e-5 on outputs of magnitude ≤ 1.
template <typename Element>
void checkAttention(const Shape &s, int variant, uint32_t seed) {
  const std::vector<int32_t> lengths = raggedLengths(s, variant, seed);
  const std::vector<Element> k = poisonedCache<Element>(s, lengths, seed + 1);
  const std::vector<Element> v = poisonedCache<Element>(s, lengths, seed + 2);
  const std::vector<float> q = randomFloats(s.R * s.T * s.H() * s.D, seed + 3);
  const float scale = 1.0f / std::sqrt(float(s.D));
  std::vector<float> want(q.size()), got(q.size());
  attendCpu(q, k, v, lengths, want, s, scale);
  attendGpu(q, k, v, lengths, got, s, scale);
  EXPECT_TRUE(allClose(got, widen(want), 2e-6, 1e-5))
      << s.str() << ", lengths[0] = " << lengths[0];
}

TEST(CudaDecode, CachedAttentionMatchesCpu) {
  // Each shape runs with one cache type, the two alternating; as D varies
  // fastest and takes an odd number of values, both types meet every value
  // of every parameter. The length pattern changes with everything but D,
  // so that each D meets all of them.
  uint32_t seed = 100;
  int index = 0;
  for (const Shape &s : sweepShapes()) {
    if (index % 2 == 0)
      checkAttention<float>(s, index / 3, seed += 4);
    else
      checkAttention<uint16_t>(s, index / 3, seed += 4);
    ++index;
  }
}

TEST(CudaDecode, CachedAttentionOtherHeadDims) {
  // Groups of lanes narrower than a warp with idle lanes (D = 24, 40) and
  // two float4s per lane (D = 256).
  uint32_t seed = 2000;
  int variant = 0;
  for (int64_t D : {24, 40, 256})
    for (const Shape &s :
         {Shape{3, 300, 2, 3, D, 1}, Shape{1, 300, 1, 1, D, 5}}) {
      checkAttention<float>(s, variant++, seed += 4);
      checkAttention<uint16_t>(s, variant++, seed += 4);
    }
}

TEST(CudaDecode, CapturedStepReplays) {
  // A decode step (append K and V, attend, advance) captured once and
  // replayed as the lengths grow: the ops must take everything that changes
  // from device memory, never from what the host saw at capture.
  const Shape s = {3, 300, 2, 3, 64, 1};
  const float scale = 1.0f / std::sqrt(float(s.D));
  const int64_t entrySize = s.R * s.T * s.Hkv * s.D;
  std::vector<int32_t> lengths = {0, 120, 260}, cpuLengths = lengths;
  std::vector<uint16_t> kCache = toBf16(randomFloats(s.cacheSize(), 3000));
  std::vector<uint16_t> vCache = toBf16(randomFloats(s.cacheSize(), 3001));
  std::vector<uint16_t> cpuK = kCache, cpuV = vCache;
  // The graph holds these vectors' data pointers: refill them in place.
  std::vector<float> k(entrySize), v(entrySize), q(s.R * s.T * s.H() * s.D);
  std::vector<float> out(q.size()), want(q.size());
  auto refill = [](std::vector<float> &values, uint32_t seed) {
    const std::vector<float> fresh = randomFloats(int64_t(values.size()), seed);
    std::copy(fresh.begin(), fresh.end(), values.begin());
  };

  // Scratch may only grow outside a capture: run the attention once first,
  // as the runtime runs a decode step before capturing it.
  attendGpu(q, kCache, vCache, lengths, out, s, scale);
  Graph::beginCapture();
  appendGpu(lengths, k, kCache, s);
  appendGpu(lengths, v, vCache, s);
  attendGpu(q, kCache, vCache, lengths, out, s, scale);
  kvAdvance(lengths.data(), s.R, int32_t(s.T));
  const Graph step = Graph::endCapture();

  uint32_t seed = 3100;
  for (int i = 0; i < 12; ++i) {
    refill(k, ++seed);
    refill(v, ++seed);
    refill(q, ++seed);
    step.replay();
    appendCpu(cpuLengths, k, cpuK, s);
    appendCpu(cpuLengths, v, cpuV, s);
    attendCpu(q, cpuK, cpuV, cpuLengths, want, s, scale);
    cpu::kvAdvance(cpuLengths.data(), s.R, int32_t(s.T));
    ASSERT_EQ(lengths, cpuLengths) << "step " << i;
    ASSERT_EQ(firstDifference(kCache, cpuK), -1) << "step " << i;
    ASSERT_EQ(firstDifference(vCache, cpuV), -1) << "step " << i;
    EXPECT_TRUE(allClose(out, widen(want), 2e-6, 1e-5)) << "step " << i;
  }
}

} // namespace
} // namespace gptc::cuda
