//===- Decode.cuh - kernels of incremental decoding -------------*- C++ -*-===//
//
// The kernels behind the decode-time ops of backends/cuda/Ops.h (ropeAt
// is Rope.cuh's kernel): writing new entries into a KV cache
// [L, R, Cap, Hkv, D] (float or bfloat16 bits), attention of new tokens
// over the cached prefix, advancing the per-row lengths. The lengths live on
// the device, and a decode step is captured into a CUDA graph once and
// replayed, so no launch depends on them: every kernel reads them itself.
//
// Attention is split-KV ("Flash-Decoding"). A decode step has too few
// (row, kv head) pairs to fill the GPU, so attendSplitKernel cuts each
// pair's visible keys into splits, attended to by separate blocks, each
// writing its normalised partial output O_s and log-sum-exp LSE_s;
// combineSplitsKernel then merges them: LSE = log Σ exp(LSE_s),
// O = Σ exp(LSE_s − LSE)·O_s. A block serves up to kDecodeRows query rows
// (query head, token) of one kv head at once (the query heads of a GQA group
// and the tokens of a prefill chunk), so each K/V row it loads is used by
// all of them. Scores, maxima and log-sum-exps are in base 2 (the scale
// carries log2 e). Arithmetic is float; bfloat16 cache rows are widened in
// registers.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_DECODE_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_DECODE_CUH

#include "backends/cuda/Intrinsics.h"
#include "backends/cuda/kernels/Common.cuh"

#include <cmath>

namespace gptc::cuda::kernels {

/// Warps of an attention block; their lanes share out the block's keys.
constexpr int kDecodeWarps = 4;
constexpr int kDecodeThreads = kDecodeWarps * kWarpSize;

/// Query rows (query head, token) of one kv head that an attention block
/// serves.
constexpr int kDecodeRows = 4;

/// Keys each group of lanes loads per step, so that several K/V rows are in
/// flight per lane.
constexpr int kDecodeKeysPerStep = 2;

/// Fewest keys a split is given: a short prefix is attended by few blocks
/// and the other splits of its row are empty.
constexpr int kMinSplitKeys = 64;

/// Dynamic shared memory of attendSplitKernel: every warp's accumulators
/// [kDecodeWarps, kDecodeRows, D], then its running maxima and sums
/// [kDecodeWarps, kDecodeRows] each.
__host__ __device__ constexpr size_t decodeSharedBytes(int D) {
  return size_t(kDecodeWarps) * kDecodeRows * (D + 2) * sizeof(float);
}

/// Four consecutive cache elements as floats: one float4 load from a float
/// cache, one uint2 load of four bfloat16 widened in registers from a bf16
/// one. `source` is 16-byte (float) or 8-byte (bf16) aligned.
__device__ __forceinline__ float4 loadFour(const float *source) {
  return *reinterpret_cast<const float4 *>(source);
}
__device__ __forceinline__ float4 loadFour(const uint16_t *source) {
  const uint2 bits = *reinterpret_cast<const uint2 *>(source);
  return make_float4(bf16ToFloat(uint16_t(bits.x & 0xffffu)),
                     bf16ToFloat(uint16_t(bits.x >> 16)),
                     bf16ToFloat(uint16_t(bits.y & 0xffffu)),
                     bf16ToFloat(uint16_t(bits.y >> 16)));
}

/// Stores `value` in a cache slot: as is, or rounded to bfloat16 (nearest
/// even).
__device__ __forceinline__ void storeElement(float value, float *slot) {
  *slot = value;
}
__device__ __forceinline__ void storeElement(float value, uint16_t *slot) {
  *slot = floatToBf16(value);
}

/// Shuffles the four floats of `value` from lane `lane ^ mask`.
__device__ __forceinline__ float4 shuffleXor(float4 value, int mask) {
  return make_float4(__shfl_xor_sync(kFullMask, value.x, mask),
                     __shfl_xor_sync(kFullMask, value.y, mask),
                     __shfl_xor_sync(kFullMask, value.z, mask),
                     __shfl_xor_sync(kFullMask, value.w, mask));
}

/// Writes entries [R, T, Hkv, D] into layer `layer` of cache
/// [L, R, Cap, Hkv, D] at slots lengths[r] .. lengths[r] + T − 1, one
/// thread per element. A row that would not fit is left unchanged (the host
/// checks the capacity first).
template <typename Element>
__global__ void __launch_bounds__(kBlockThreads)
    kvAppendKernel(const int32_t *lengths, // [R]
                   const float *entries,   // [R, T, Hkv, D]
                   Element *cache,         // [L, R, Cap, Hkv, D]
                   int R, int Cap, int slotSize, int T, int layer) {
  const int index = blockIdx.x * blockDim.x + threadIdx.x;
  if (index >= R * T * slotSize)
    return;
  const int r = index / (T * slotSize), t = index / slotSize % T;
  const int length = lengths[r];
  if (length < 0 || length > Cap - T)
    return;
  const int64_t slot = (int64_t(layer) * R + r) * Cap + length + t;
  storeElement(entries[index], cache + slot * slotSize + index % slotSize);
}

/// lengths[R] += by.
static __global__ void __launch_bounds__(kBlockThreads)
    kvAdvanceKernel(int32_t *lengths, // [R]
                    int R, int by) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r < R)
    lengths[r] += by;
}

/// Folds another part's running softmax (max `otherMax` and sum of
/// exp2(score − max), accumulators [kVectors] of the exp2-weighted values)
/// into this one. A part that has seen no key has max −inf and sum 0.
template <int kVectors>
__device__ __forceinline__ void
mergeSoftmax(float &max, float &sum, float4 (&acc)[kVectors], float otherMax,
             float otherSum, const float4 (&otherAcc)[kVectors]) {
  const float newMax = fmaxf(max, otherMax);
  const float shift = newMax == -INFINITY ? 0.0f : newMax;
  const float a = fastExp2(max - shift), b = fastExp2(otherMax - shift);
  sum = sum * a + otherSum * b;
  for (int v = 0; v < kVectors; ++v) {
    acc[v].x = acc[v].x * a + otherAcc[v].x * b;
    acc[v].y = acc[v].y * a + otherAcc[v].y * b;
    acc[v].z = acc[v].z * a + otherAcc[v].z * b;
    acc[v].w = acc[v].w * a + otherAcc[v].w * b;
  }
  max = newMax;
}

/// One split of the keys for up to kDecodeRows query rows of one (row, kv
/// head): grid (S splits, R·Hkv, ceil(G·T / kDecodeRows)) with G = H / Hkv,
/// kDecodeThreads threads, decodeSharedBytes(D) of shared memory.
///
/// The block's query rows are (token t, query head g) = (i / G, i % G) for
/// i in [z·kDecodeRows, (z + 1)·kDecodeRows) ∩ [0, G·T); query row i sees
/// slots 0 .. lengths[r] + t. The slots visible to the block's last row are
/// cut into S chunks of max(ceil(visible / S), kMinSplitKeys) keys and the
/// block takes chunk `split` (possibly empty). Lanes form groups of `width`
/// (a power of two, width·4·kVectors ≥ D) that each load one K and V row at
/// a time, lane `member` of a group its float4s member + v·width; a group
/// reduces its dot products by shuffles and keeps its own running softmax,
/// the groups of a warp merge by shuffles, the warps through shared memory.
/// Writes partialOut[split] [R, T, H, D] (normalised, 0 for an empty split)
/// and, unless partialLse is null (S = 1), partialLse[split] [R, T, H]
/// (base 2, −inf for an empty split).
template <typename Element, int kVectors>
__global__ void __launch_bounds__(kDecodeThreads)
    attendSplitKernel(const float *q,         // [R, T, H, D]
                      const Element *kCache,  // [L, R, Cap, Hkv, D]
                      const Element *vCache,  // [L, R, Cap, Hkv, D]
                      const int32_t *lengths, // [R]
                      float *partialOut,      // [S, R, T, H, D]
                      float *partialLse,      // [S, R, T, H]
                      int R, int Cap, int Hkv, int D, int T, int H, int layer,
                      float scale) {
  constexpr float kLog2e = 1.4426950408889634f;
  const int split = blockIdx.x, splits = gridDim.x;
  const int r = blockIdx.y / Hkv, kv = blockIdx.y % Hkv;
  const int G = H / Hkv;
  const int firstRow = blockIdx.z * kDecodeRows;
  const int rows =
      G * T - firstRow < kDecodeRows ? G * T - firstRow : kDecodeRows;
  const int length = lengths[r];

  // This block's chunk [begin, end) of the slots its last row sees (never
  // past the capacity, even if the lengths are wrong).
  const int lastVisible = length + (firstRow + rows - 1) / G + 1;
  const int visible = lastVisible < Cap ? lastVisible : Cap;
  const int share = (visible + splits - 1) / splits;
  const int chunk = share > kMinSplitKeys ? share : kMinSplitKeys;
  const int begin = split * chunk < visible ? split * chunk : visible;
  const int end = visible - begin < chunk ? visible : begin + chunk;

  int width = 1;
  while (width * 4 * kVectors < D)
    width *= 2;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int member = lane % width;
  const int groupsPerWarp = kWarpSize / width;
  const int group = warp * groupsPerWarp + lane / width;
  const int groups = kDecodeWarps * groupsPerWarp;

  // This lane's float4s of the queries times scale·log2e; zero past D and
  // past the block's rows.
  const float factor = scale * kLog2e;
  float4 query[kDecodeRows][kVectors];
  int lastKey[kDecodeRows];
  for (int i = 0; i < kDecodeRows; ++i) {
    const int t = (firstRow + i) / G, g = (firstRow + i) % G;
    lastKey[i] = length + t;
    for (int c = 0; c < kVectors; ++c) {
      const int column = (member + c * width) * 4;
      float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (i < rows && column < D)
        x = *reinterpret_cast<const float4 *>(
            q + ((int64_t(r) * T + t) * H + kv * G + g) * D + column);
      query[i][c] =
          make_float4(x.x * factor, x.y * factor, x.z * factor, x.w * factor);
    }
  }

  float runningMax[kDecodeRows], runningSum[kDecodeRows];
  float4 acc[kDecodeRows][kVectors];
  for (int i = 0; i < kDecodeRows; ++i) {
    runningMax[i] = -INFINITY;
    runningSum[i] = 0.0f;
    for (int v = 0; v < kVectors; ++v)
      acc[i][v] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }

  const int64_t slotSize = int64_t(Hkv) * D;
  const int64_t headBase = (int64_t(layer) * R + r) * Cap * slotSize + kv * D;
  const Element *keys = kCache + headBase, *values = vCache + headBase;
  for (int first = begin; first < end; first += groups * kDecodeKeysPerStep) {
    int key[kDecodeKeysPerStep];
    float4 k[kDecodeKeysPerStep][kVectors], v[kDecodeKeysPerStep][kVectors];
    for (int s = 0; s < kDecodeKeysPerStep; ++s) {
      key[s] = first + s * groups + group;
      for (int c = 0; c < kVectors; ++c) {
        const int column = (member + c * width) * 4;
        k[s][c] = v[s][c] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (key[s] < end && column < D) {
          k[s][c] = loadFour(keys + key[s] * slotSize + column);
          v[s][c] = loadFour(values + key[s] * slotSize + column);
        }
      }
    }
    for (int i = 0; i < kDecodeRows; ++i) {
      if (i >= rows)
        continue; // uniform over the block
      float score[kDecodeKeysPerStep];
      float stepMax = -INFINITY;
      for (int s = 0; s < kDecodeKeysPerStep; ++s) {
        float dot = 0.0f;
        for (int c = 0; c < kVectors; ++c)
          dot += query[i][c].x * k[s][c].x + query[i][c].y * k[s][c].y +
                 query[i][c].z * k[s][c].z + query[i][c].w * k[s][c].w;
        for (int offset = width / 2; offset > 0; offset /= 2)
          dot += __shfl_xor_sync(kFullMask, dot, offset);
        score[s] = key[s] < end && key[s] <= lastKey[i] ? dot : -INFINITY;
        stepMax = fmaxf(stepMax, score[s]);
      }
      const float newMax = fmaxf(runningMax[i], stepMax);
      const float shift = newMax == -INFINITY ? 0.0f : newMax;
      const float correction = fastExp2(runningMax[i] - shift);
      runningSum[i] *= correction;
      for (int c = 0; c < kVectors; ++c) {
        acc[i][c].x *= correction;
        acc[i][c].y *= correction;
        acc[i][c].z *= correction;
        acc[i][c].w *= correction;
      }
      for (int s = 0; s < kDecodeKeysPerStep; ++s) {
        const float weight = fastExp2(score[s] - shift);
        runningSum[i] += weight;
        for (int c = 0; c < kVectors; ++c) {
          acc[i][c].x += weight * v[s][c].x;
          acc[i][c].y += weight * v[s][c].y;
          acc[i][c].z += weight * v[s][c].z;
          acc[i][c].w += weight * v[s][c].w;
        }
      }
      runningMax[i] = newMax;
    }
  }

  // Merge the groups of each warp; every group ends up with the warp's sum.
  for (int offset = width; offset < kWarpSize; offset *= 2) {
    for (int i = 0; i < kDecodeRows; ++i) {
      if (i >= rows)
        continue;
      float4 otherAcc[kVectors];
      for (int c = 0; c < kVectors; ++c)
        otherAcc[c] = shuffleXor(acc[i][c], offset);
      const float otherMax = __shfl_xor_sync(kFullMask, runningMax[i], offset);
      const float otherSum = __shfl_xor_sync(kFullMask, runningSum[i], offset);
      mergeSoftmax(runningMax[i], runningSum[i], acc[i], otherMax, otherSum,
                   otherAcc);
    }
  }

  // Merge the warps through shared memory, one thread per (row, column).
  float *sharedAcc = dynamicShared<float>(); // [warps, kDecodeRows, D]
  float *sharedMax = sharedAcc + kDecodeWarps * kDecodeRows * D;
  float *sharedSum = sharedMax + kDecodeWarps * kDecodeRows;
  for (int i = 0; i < kDecodeRows; ++i) {
    if (i >= rows)
      continue;
    const int warpRow = warp * kDecodeRows + i;
    if (lane < width) {
      for (int c = 0; c < kVectors; ++c) {
        const int column = (member + c * width) * 4;
        if (column < D)
          *reinterpret_cast<float4 *>(sharedAcc + warpRow * D + column) =
              acc[i][c];
      }
    }
    if (lane == 0) {
      sharedMax[warpRow] = runningMax[i];
      sharedSum[warpRow] = runningSum[i];
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < rows * D; e += kDecodeThreads) {
    const int i = e / D, column = e % D;
    float max = -INFINITY;
    for (int w = 0; w < kDecodeWarps; ++w)
      max = fmaxf(max, sharedMax[w * kDecodeRows + i]);
    const float shift = max == -INFINITY ? 0.0f : max;
    float sum = 0.0f, out = 0.0f;
    for (int w = 0; w < kDecodeWarps; ++w) {
      const float weight = fastExp2(sharedMax[w * kDecodeRows + i] - shift);
      sum += sharedSum[w * kDecodeRows + i] * weight;
      out += sharedAcc[(w * kDecodeRows + i) * D + column] * weight;
    }
    const int t = (firstRow + i) / G, g = (firstRow + i) % G;
    const int64_t queryRow =
        ((int64_t(split) * R + r) * T + t) * H + kv * G + g;
    partialOut[queryRow * D + column] = sum > 0.0f ? out / sum : 0.0f;
    if (partialLse != nullptr && column == 0)
      partialLse[queryRow] = sum > 0.0f ? shift + log2f(sum) : -INFINITY;
  }
}

/// out[N, D] = the splits' partial outputs partialOut [S, N, D] merged by
/// their base-2 log-sum-exps partialLse [S, N] (N = R·T·H query rows), one
/// thread per output element. Every row has a nonempty split.
static __global__ void __launch_bounds__(kBlockThreads)
    combineSplitsKernel(const float *partialOut, // [S, N, D]
                        const float *partialLse, // [S, N]
                        float *out,              // [N, D]
                        int splits, int N, int D) {
  const int index = blockIdx.x * blockDim.x + threadIdx.x;
  if (index >= N * D)
    return;
  const int row = index / D;
  float max = -INFINITY;
  for (int s = 0; s < splits; ++s)
    max = fmaxf(max, partialLse[s * N + row]);
  float sum = 0.0f, result = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float weight = fastExp2(partialLse[s * N + row] - max);
    sum += weight;
    result += weight * partialOut[int64_t(s) * N * D + index];
  }
  out[index] = result / sum;
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_DECODE_CUH
