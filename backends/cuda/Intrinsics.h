//===- Intrinsics.h - device operations with a host emulation ---*- C++ -*-===//
//
// The operations whose device form is inline PTX: bf16 packing, fast exp2,
// the m16n8k16 bf16 tensor-core product. Under nvcc's device pass they are
// one instruction each; on the host they are exact emulations (round to
// nearest even; the PTX fragment layout, see gptc::simt::mmaBf16).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_INTRINSICS_H
#define GPTC_BACKENDS_CUDA_INTRINSICS_H

#include "backends/cuda/Cuda.h"

#ifndef __CUDA_ARCH__
#include <cmath>
#include <cstring>
#endif

namespace gptc::cuda {

/// float -> bf16 bits, round to nearest even (NaN stays NaN).
__host__ __device__ __forceinline__ uint16_t floatToBf16(float x) {
#ifdef __CUDA_ARCH__
  uint16_t bits;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(bits) : "f"(x));
  return bits;
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
#endif
}

__host__ __device__ __forceinline__ float bf16ToFloat(uint16_t bits) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(uint32_t(bits) << 16);
#else
  uint32_t u = uint32_t(bits) << 16;
  float x;
  std::memcpy(&x, &u, sizeof(x));
  return x;
#endif
}

/// Two floats as a bf16x2 register: `low` in bits 0..15 (the lower column
/// or row of an mma fragment), `high` in bits 16..31.
__host__ __device__ __forceinline__ uint32_t packBf16x2(float low, float high) {
#ifdef __CUDA_ARCH__
  uint32_t packed;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(high), "f"(low));
  return packed;
#else
  return uint32_t(floatToBf16(low)) | (uint32_t(floatToBf16(high)) << 16);
#endif
}

/// 2^x; on the GPU the special-function unit's ex2.approx (rel. err 2^-22).
__host__ __device__ __forceinline__ float fastExp2(float x) {
#ifdef __CUDA_ARCH__
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#else
  return std::exp2(x);
#endif
}

/// d += A·B for a warp's 16x16 (row-major) by 16x8 (column-major) bf16 tile
/// with fp32 accumulation; the fragment layout is gptc::simt::mmaBf16's.
/// Every lane of the warp must call it together.
__device__ __forceinline__ void mmaBf16(float (&d)[4], const uint32_t (&a)[4],
                                        const uint32_t (&b)[2]) {
#ifdef __CUDA_ARCH__
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]));
#elif !defined(__CUDACC__)
  ::gptc::simt::mmaBf16(d, a, b, d);
#endif
}

/// Dynamic shared memory of the running block, as `T*`.
template <typename T> __device__ __forceinline__ T *dynamicShared() {
#ifdef __CUDACC__
  extern __shared__ __align__(16) unsigned char gptcDynamicShared[];
  return reinterpret_cast<T *>(gptcDynamicShared);
#else
  return static_cast<T *>(::gptc::simt::dynamicShared());
#endif
}

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_INTRINSICS_H
