//===- Embedding.cu - token embedding lookup and its gradient -------------===//

#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/kernels/Embedding.cuh"

namespace gptc::cuda {
namespace {

using namespace kernels;

/// Warps the gradient aims for: enough to fill an H100 a few times over.
/// Each warp reads all n ids, so more warps cost more id reads but shorten
/// each warp's chain of read-modify-writes.
constexpr int64_t kBackwardWarps = 2048;

/// Launches embeddingBackwardKernel with Width-float channel chunks.
template <int Width>
void launchEmbeddingBackward(const int32_t *ids, const float *dy, float *dtable,
                             int64_t n, int64_t V, int64_t C) {
  const int64_t chunks = (C + Width - 1) / Width;
  const int64_t channelBlocks = (chunks + kWarpSize - 1) / kWarpSize;
  int64_t ranges = (kBackwardWarps + channelBlocks - 1) / channelBlocks;
  ranges = ranges < V ? ranges : V;
  launch("embeddingBackward", &embeddingBackwardKernel<Width>,
         warpPerRowBlocks(channelBlocks * ranges), dim3(kBlockThreads), 0, ids,
         dy, dtable, n, V, C, channelBlocks, ranges);
}

} // namespace

void embedding(const float *table, // [V, C]
               const int32_t *ids, // [n]
               float *out,         // [n, C]
               int64_t n, int64_t V, int64_t C) {
  if (n == 0 || C == 0)
    return;
  if (C % 4 == 0 && isVectorAligned(table) && isVectorAligned(out))
    launch("embedding", &embeddingKernel<4>, warpPerRowBlocks(n),
           dim3(kBlockThreads), 0, table, ids, out, n, C);
  else
    launch("embedding", &embeddingKernel<1>, warpPerRowBlocks(n),
           dim3(kBlockThreads), 0, table, ids, out, n, C);
}

void embeddingBackward(const int32_t *ids, // [n]
                       const float *dy,    // [n, C]
                       float *dtable,      // [V, C]
                       int64_t n, int64_t V, int64_t C) {
  if (V == 0 || C == 0)
    return;
  if (C % 4 == 0 && isVectorAligned(dy) && isVectorAligned(dtable))
    launchEmbeddingBackward<4>(ids, dy, dtable, n, V, C);
  else
    launchEmbeddingBackward<1>(ids, dy, dtable, n, V, C);
}

} // namespace gptc::cuda
