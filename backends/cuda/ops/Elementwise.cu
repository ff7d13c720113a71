//===- Elementwise.cu - fill, scale, add, reluSquare, softcap -------------===//
//
// Each op is one launch of the grid-stride elementwise kernel, moving float4
// when every pointer allows it.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Launch.h"
#include "backends/cuda/Ops.h"
#include "backends/cuda/kernels/Elementwise.cuh"
#include "backends/cuda/ops/Convert.h"

namespace gptc::cuda {
namespace {

using namespace kernels;

/// y[n] = op(a[n], b[n]) on the first `Inputs` of a and b.
template <int Inputs, typename Op>
void runElementwise(const char *name, const float *a, const float *b, float *y,
                    int64_t n, Op op) {
  if (n == 0)
    return;
  if (isVectorAligned(a) && isVectorAligned(b) && isVectorAligned(y))
    launch(name, &elementwiseKernel<Inputs, 4, Op>,
           gridStrideBlocks((n + 3) / 4, kBlockThreads), dim3(kBlockThreads), 0,
           a, b, y, n, op);
  else
    launch(name, &elementwiseKernel<Inputs, 1, Op>,
           gridStrideBlocks(n, kBlockThreads), dim3(kBlockThreads), 0, a, b, y,
           n, op);
}

} // namespace

void convertToBf16(const float *x, // [n]
                   uint16_t *bf16, // [n]
                   int64_t n) {
  if (n == 0)
    return;
  if (isVectorAligned(x) && isVectorAligned(bf16))
    launch("toBf16", &toBf16Kernel<4>,
           gridStrideBlocks((n + 3) / 4, kBlockThreads), dim3(kBlockThreads), 0,
           x, bf16, n);
  else
    launch("toBf16", &toBf16Kernel<1>, gridStrideBlocks(n, kBlockThreads),
           dim3(kBlockThreads), 0, x, bf16, n);
}

void convertFromBf16(const uint16_t *bf16, // [n]
                     float *x,             // [n]
                     int64_t n) {
  if (n == 0)
    return;
  launch("fromBf16", &fromBf16Kernel, gridStrideBlocks(n, kBlockThreads),
         dim3(kBlockThreads), 0, bf16, x, n);
}

void fill(float *y, // [n]
          int64_t n, float value) {
  runElementwise<0>("fill", nullptr, nullptr, y, n, FillOp{value});
}

void scale(const float *x, // [n]
           float *y,       // [n]
           int64_t n, float factor) {
  runElementwise<1>("scale", x, nullptr, y, n, ScaleOp{factor});
}

void add(const float *a, // [n]
         const float *b, // [n]
         float *y,       // [n]
         int64_t n) {
  runElementwise<2>("add", a, b, y, n, AddOp{});
}

void reluSquare(const float *x, // [n]
                float *y,       // [n]
                int64_t n) {
  runElementwise<1>("reluSquare", x, nullptr, y, n, ReluSquareOp{});
}

void reluSquareBackward(const float *x,  // [n]
                        const float *dy, // [n]
                        float *dx,       // [n]
                        int64_t n) {
  runElementwise<2>("reluSquareBackward", x, dy, dx, n, ReluSquareBackwardOp{});
}

void softcap(const float *x, // [n]
             float *y,       // [n]
             int64_t n, float cap) {
  runElementwise<1>("softcap", x, nullptr, y, n, SoftcapOp{cap});
}

} // namespace gptc::cuda
