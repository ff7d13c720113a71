//===- Attention.cu - fused causal attention for training -----------------===//
//
// gptc::cuda::causalAttention and causalAttentionBackward: pick the kernel
// instance for the head size and launch it (kernels/Attention.cuh,
// kernels/AttentionBackward.cuh). The kernels exist for D = 16, 32, 64 and
// 128, the head sizes of the models gptc compiles; any other D is a fatal
// error.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/Workspace.h"
#include "backends/cuda/kernels/Attention.cuh"
#include "backends/cuda/kernels/AttentionBackward.cuh"

#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <type_traits>
#include <utility>

namespace gptc::cuda {
namespace {

/// Calls body(std::integral_constant<int, D>()) for the head size D of
/// kAttentionHeadDims at index I..., if one matches.
template <typename Body, std::size_t... I>
bool dispatchHeadSize(int64_t D, Body body, std::index_sequence<I...>) {
  return (
      (D == kAttentionHeadDims[I]
           ? (body(std::integral_constant<int, kAttentionHeadDims[I]>()), true)
           : false) ||
      ...);
}

/// Calls body(std::integral_constant<int, D>()) for a supported head size;
/// exits naming `op` otherwise.
template <typename Body>
void forHeadSize(int64_t D, const char *op, Body body) {
  constexpr std::size_t kCount = std::size(kAttentionHeadDims);
  if (dispatchHeadSize(D, body, std::make_index_sequence<kCount>()))
    return;
  std::fprintf(stderr, "error: %s on CUDA supports head dims", op);
  for (int64_t supported : kAttentionHeadDims)
    std::fprintf(stderr, " %lld", static_cast<long long>(supported));
  std::fprintf(stderr, ", got D=%lld\n", static_cast<long long>(D));
  std::exit(1);
}

} // namespace

void causalAttention(const float *q, // [B, T, H, D]
                     const float *k, // [B, T, Hkv, D]
                     const float *v, // [B, T, Hkv, D]
                     float *o,       // [B, T, H, D]
                     float *lse,     // [B, H, T]
                     int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                     float scale) {
  using namespace kernels;
  if (B * T * H == 0)
    return;
  const dim3 grid(unsigned(B * H),
                  unsigned(tileCount(int(T), kForwardQueryTile)));
  forHeadSize(D, "causalAttention", [&](auto headSize) {
    launch("causalAttention",
           &causalAttentionForward<decltype(headSize)::value>, grid,
           dim3(kAttentionThreads), 0, q, k, v, o, lse, int(T), int(H),
           int(Hkv), scale);
  });
}

void causalAttentionBackward(const float *q,    // [B, T, H, D]
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
  using namespace kernels;
  if (B * T * H == 0)
    return;
  // rowsum(dout∘o), [B, H, T]
  float *delta = static_cast<float *>(
      scratch(Scratch::AttentionDelta, B * H * T * sizeof(float)));
  const int64_t rows = B * T * H;
  const dim3 grid(unsigned(B * Hkv),
                  unsigned(tileCount(int(T), kBackwardKeyTile)));
  forHeadSize(D, "causalAttentionBackward", [&](auto headSize) {
    launch("attentionRowDots", &attentionRowDots, warpPerRowBlocks(rows),
           dim3(kBlockThreads), 0, o, dout, delta, dq, rows, int(T), int(H),
           int(D));
    launch("causalAttentionBackward",
           &causalAttentionBackwardKernel<decltype(headSize)::value>, grid,
           dim3(kAttentionThreads), 0, q, k, v, dout, lse, delta, dq, dk, dv,
           int(T), int(H), int(Hkv), scale);
  });
}

} // namespace gptc::cuda
