//===- Simt.h - run CUDA kernels on the CPU ---------------------*- C++ -*-===//
//
// gptc's SIMT emulator: the host-compiler half of the single-source CUDA
// kernels in backends/cuda/kernels. Every CUDA thread of a block is a fiber
// with its own stack; a block's fibers run on one OS thread until each
// reaches a rendezvous (__syncthreads, a warp shuffle, an mma) or returns.
// Blocks of a grid are spread over OpenMP threads, each with its own shared
// memory, reused block after block.
//
// What it checks, like a sanitizer would on a GPU (docs/CUDA.md lists it
// all): a barrier that not every live thread of a block reaches (or warps
// stuck at different rendezvous) aborts naming the kernel and the block;
// device memory ends at a guard page, so an access past its end aborts
// naming the kernel; dynamic shared memory is filled with NaN bytes before
// every block, so reading it before writing it shows; threads run in ascending
// order in some blocks and rounds and descending in the others, so a missing
// barrier between a write and another thread's read shows in either direction.
//
// Never included by nvcc: backends/cuda/Cuda.h picks this or the real CUDA
// headers.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_SIMT_H
#define GPTC_BACKENDS_CUDA_SIMT_H

#ifdef __CUDACC__
#error "Simt.h is the host emulation of CUDA; nvcc uses the real headers"
#endif

#include <cstddef>
#include <cstdint>
#include <functional>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1)
      : x(x), y(y), z(z) {}
};

struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}

namespace gptc::simt {

constexpr int kWarpSize = 32;

/// Bytes each lane can publish to its warp at a rendezvous (an mma's A, B
/// and C fragments are the largest user).
constexpr size_t kExchangeBytes = 64;

/// Runs `body` once per thread of every block of `grid`, each thread as a
/// fiber, with `sharedBytes` of dynamic shared memory per block. `name`
/// labels error reports.
void launch(const char *name, dim3 grid, dim3 block, size_t sharedBytes,
            const std::function<void()> &body);

/// The calling fiber's coordinates and its block's dynamic shared memory.
const dim3 &threadIndex();
const dim3 &blockIndex();
const dim3 &blockDimensions();
const dim3 &gridDimensions();
void *dynamicShared();

/// The running block's static shared array declared at `site` (one per
/// declaration), `bytes` long and 16-byte aligned: allocated, filled with NaN
/// bytes and fenced by canaries on the block's first call, the same memory
/// for every later call of the block.
void *staticShared(const void *site, const char *name, size_t bytes);

/// Waits until every live thread of the block is here.
void syncBlock();

/// The calling lane's exchange slot, and lane `lane`'s slot in its warp.
void *exchangeSlot();
const void *laneSlot(int lane);

/// Waits until every live lane of the calling thread's warp is here.
void syncWarp();

/// This thread's lane in its warp.
int laneId();

/// Every lane publishes `value` and receives lane `source(lane)`'s value;
/// a source outside [0, 32) yields the lane's own value (as CUDA does for
/// shfl.down past the end).
template <typename T, typename Source> T exchange(T value, Source source) {
  static_assert(sizeof(T) <= kExchangeBytes, "value too large to exchange");
  *static_cast<T *>(exchangeSlot()) = value;
  syncWarp();
  int from = source(laneId());
  T result = from >= 0 && from < kWarpSize
                 ? *static_cast<const T *>(laneSlot(from))
                 : value;
  syncWarp();
  return result;
}

/// D = A·B + C for one warp's m16n8k16 bf16 tile in the PTX fragment layout
/// (`mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32`): with g = lane/4
/// and t = lane%4, a[0..3] hold A(g, 2t..2t+1), A(g+8, 2t..), A(g, 2t+8..),
/// A(g+8, 2t+8..); b[0..1] hold B(2t..2t+1, g), B(2t+8.., g); c[0..3] hold
/// C(g, 2t), C(g, 2t+1), C(g+8, 2t), C(g+8, 2t+1). The low half of each
/// 32-bit register is the lower column (A) or row (B).
void mmaBf16(float d[4], const uint32_t a[4], const uint32_t b[2],
             const float c[4]);

/// Emulated device memory: `bytes` bytes, 16-byte aligned, filled with NaN
/// bytes and placed so that its end, rounded up to 16 bytes, touches an
/// inaccessible guard page. A kernel that reads or writes past the end
/// aborts naming the kernel, its block and thread, and the allocation
/// (`what`). Released with freeDevice.
void *allocateDevice(size_t bytes, const char *what);
void freeDevice(void *pointer);

/// atomicAdd for the emulator: blocks run concurrently on OpenMP threads.
float atomicAddFloat(float *address, float value);
int atomicAddInt(int *address, int value);

} // namespace gptc::simt

// The CUDA built-in variables and qualifiers, for single-source kernels.
#define threadIdx (::gptc::simt::threadIndex())
#define blockIdx (::gptc::simt::blockIndex())
#define blockDim (::gptc::simt::blockDimensions())
#define gridDim (::gptc::simt::gridDimensions())
#define warpSize 32
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
// Static shared memory goes through GPTC_SHARED_ARRAY (Cuda.h), which the
// emulator poisons and fences for every block.
#define __shared__                                                             \
  static_assert(false, "declare shared arrays with GPTC_SHARED_ARRAY");
#define __launch_bounds__(...)

inline void __syncthreads() { ::gptc::simt::syncBlock(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::gptc::simt::syncWarp(); }

template <typename T> inline T __shfl_xor_sync(unsigned, T value, int mask) {
  return ::gptc::simt::exchange(value,
                                [mask](int lane) { return lane ^ mask; });
}
template <typename T> inline T __shfl_down_sync(unsigned, T value, int delta) {
  return ::gptc::simt::exchange(value,
                                [delta](int lane) { return lane + delta; });
}
template <typename T> inline T __shfl_up_sync(unsigned, T value, int delta) {
  return ::gptc::simt::exchange(value,
                                [delta](int lane) { return lane - delta; });
}
template <typename T> inline T __shfl_sync(unsigned, T value, int source) {
  return ::gptc::simt::exchange(value, [source](int) { return source; });
}

inline float atomicAdd(float *address, float value) {
  return ::gptc::simt::atomicAddFloat(address, value);
}
inline int atomicAdd(int *address, int value) {
  return ::gptc::simt::atomicAddInt(address, value);
}

template <typename T> inline T __ldg(const T *address) { return *address; }

#endif // GPTC_BACKENDS_CUDA_SIMT_H
