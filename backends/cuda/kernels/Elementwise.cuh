//===- Elementwise.cuh - elementwise kernels --------------------*- C++ -*-===//
//
// One grid-stride kernel for every op of the form y[i] = op(a[i], b[i]) with
// zero, one or two inputs (fill, scale, reluSquare, softcap, add,
// reluSquareBackward), plus the float -> bfloat16 conversion in front of the
// bf16 GEMMs. With Width 4 the bulk of the elements moves as float4 (all
// pointers 16-byte aligned) and the last n % 4 one at a time.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_KERNELS_ELEMENTWISE_CUH
#define GPTC_BACKENDS_CUDA_KERNELS_ELEMENTWISE_CUH

#include "backends/cuda/Intrinsics.h"
#include "backends/cuda/kernels/Common.cuh"

namespace gptc::cuda::kernels {

/// The ops, each a function of the elements of the inputs it reads (the
/// others are passed as 0).
struct FillOp {
  float value;
  __device__ float operator()(float, float) const { return value; }
};

struct ScaleOp {
  float factor;
  __device__ float operator()(float x, float) const { return factor * x; }
};

struct AddOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};

/// relu(x)², written so that a NaN input stays NaN (as torch.relu).
struct ReluSquareOp {
  __device__ float operator()(float x, float) const {
    const float relu = x < 0.0f ? 0.0f : x;
    return relu * relu;
  }
};

/// 2·relu(x)·dy.
struct ReluSquareBackwardOp {
  __device__ float operator()(float x, float dy) const {
    const float relu = x < 0.0f ? 0.0f : x;
    return 2.0f * relu * dy;
  }
};

struct SoftcapOp {
  float cap;
  __device__ float operator()(float x, float) const {
    return cap * tanhf(x / cap);
  }
};

/// y[n] = op(a[n], b[n]), reading the first `Inputs` of a and b.
template <int Inputs, int Width, typename Op>
__global__ void __launch_bounds__(kBlockThreads)
    elementwiseKernel(const float *__restrict__ a, // [n] or unused
                      const float *__restrict__ b, // [n] or unused
                      float *__restrict__ y,       // [n]
                      int64_t n, Op op) {
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t chunks = n / Width;
  for (int64_t i = first; i < chunks; i += stride) {
    Floats<Width> inA{}, inB{}, out;
    if constexpr (Inputs > 0)
      inA = loadFloats<Width>(a, i);
    if constexpr (Inputs > 1)
      inB = loadFloats<Width>(b, i);
    for (int k = 0; k < Width; ++k)
      out.value[k] = op(inA.value[k], inB.value[k]);
    storeFloats<Width>(y, i, out);
  }
  // The tail that does not fill a float4.
  for (int64_t i = chunks * Width + first; i < n; i += stride)
    y[i] =
        op(Inputs > 0 ? __ldg(a + i) : 0.0f, Inputs > 1 ? __ldg(b + i) : 0.0f);
}

/// bf16[n] = x[n] rounded to bfloat16 (ties to even). With Width 4, x is
/// 16-byte and bf16 8-byte aligned.
template <int Width>
__global__ void __launch_bounds__(kBlockThreads)
    toBf16Kernel(const float *__restrict__ x, // [n]
                 uint16_t *__restrict__ bf16, // [n]
                 int64_t n) {
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t chunks = n / Width;
  for (int64_t i = first; i < chunks; i += stride) {
    const Floats<Width> in = loadFloats<Width>(x, i);
    if constexpr (Width == 4) {
      uint2 packed;
      packed.x = packBf16x2(in.value[0], in.value[1]);
      packed.y = packBf16x2(in.value[2], in.value[3]);
      reinterpret_cast<uint2 *>(bf16)[i] = packed;
    } else {
      bf16[i] = floatToBf16(in.value[0]);
    }
  }
  for (int64_t i = chunks * Width + first; i < n; i += stride)
    bf16[i] = floatToBf16(__ldg(x + i));
}

/// x[n] = bf16[n] widened to float (exact).
static __global__ void __launch_bounds__(kBlockThreads)
    fromBf16Kernel(const uint16_t *__restrict__ bf16, // [n]
                   float *__restrict__ x,             // [n]
                   int64_t n) {
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = first; i < n; i += stride)
    x[i] = bf16ToFloat(__ldg(bf16 + i));
}

} // namespace gptc::cuda::kernels

#endif // GPTC_BACKENDS_CUDA_KERNELS_ELEMENTWISE_CUH
