//===- MatmulBf16.cpp - linear and its gradient on bfloat16 inputs --------===//
//
// linearBf16 and linearBackwardBf16 round their float operands to bfloat16
// into per-thread workspaces, then multiply them with oneDNN's matmul
// primitive (AMX tiles or AVX512-BF16, float accumulation, float results),
// which gemmBf16 offers the bf16 lm_head losses too.
// Creating a matmul primitive costs far more than running a small one, so
// the primitives are cached by shape and created once per run. A decode
// step's few rows take an AVX512-BF16 matrix-vector path instead, which
// reads the float weights once and rounds them in registers.
//
//===----------------------------------------------------------------------===//

#include "backends/cpu/Gemm.h"
#include "backends/cpu/Kernels.h"
#include "backends/cpu/Workspace.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>

#include <dnnl.h>
#include <immintrin.h>
#include <omp.h>

namespace gptc::cpu {
namespace {

/// c[m, n] = op(a)[m, k] · op(b)[k, n], or c += it with accumulate, with a
/// and b bfloat16 and c float, all row-major; op(a) is stored as [k, m]
/// when transA is set, op(b) as [n, k] when transB is.
struct MatmulShape {
  int64_t m, k, n;
  bool transA, transB, accumulate;
  /// oneDNN fixes the thread count of a primitive when it creates it.
  int threads;

  bool operator<(const MatmulShape &other) const {
    return std::tie(m, k, n, transA, transB, accumulate, threads) <
           std::tie(other.m, other.k, other.n, other.transA, other.transB,
                    other.accumulate, other.threads);
  }
};

/// Aborts unless `status` is success: every call here is valid for any
/// shape, so a failure is a bug or a machine oneDNN cannot serve.
void check(dnnl_status_t status, const char *call, const MatmulShape &shape) {
  if (status == dnnl_success)
    return;
  std::fprintf(stderr,
               "gptc runtime: %s for the bf16 matmul (m=%lld, k=%lld, "
               "n=%lld) failed with status %d\n",
               call, static_cast<long long>(shape.m),
               static_cast<long long>(shape.k), static_cast<long long>(shape.n),
               static_cast<int>(status));
  std::abort();
}

/// The CPU engine and the stream that every bf16 matmul runs on.
struct Dnnl {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
};

/// The engine and stream, created by the first matmul (`shape`, which a
/// failure names) and kept for the life of the process. A CPU stream runs
/// each primitive to completion on the calling thread's OpenMP team.
const Dnnl &dnnl(const MatmulShape &shape) {
  static const Dnnl instance = [&shape] {
    Dnnl created;
    check(dnnl_engine_create(&created.engine, dnnl_cpu, 0),
          "dnnl_engine_create", shape);
    check(dnnl_stream_create(&created.stream, created.engine,
                             dnnl_stream_default_flags),
          "dnnl_stream_create", shape);
    return created;
  }();
  return instance;
}

/// A row-major matrix descriptor of dims [rows, cols], stored transposed
/// (as [cols, rows]) when `transposed` is set.
dnnl_memory_desc_t matrixDesc(int64_t rows, int64_t cols, bool transposed,
                              dnnl_data_type_t type, const MatmulShape &shape) {
  const dnnl_dims_t dims = {rows, cols};
  const dnnl_dims_t strides = {transposed ? 1 : cols, transposed ? rows : 1};
  dnnl_memory_desc_t desc;
  check(dnnl_memory_desc_init_by_strides(&desc, 2, dims, type, strides),
        "dnnl_memory_desc_init_by_strides", shape);
  return desc;
}

/// The matmul primitive of `shape`, created at its first use. Primitives
/// are kept for the life of the process: a model has a handful of shapes.
const_dnnl_primitive_t matmulPrimitive(const MatmulShape &shape) {
  static std::mutex mutex;
  static std::map<MatmulShape, dnnl_primitive_t> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto [entry, inserted] = cache.try_emplace(shape, nullptr);
  if (!inserted)
    return entry->second;
  const dnnl_memory_desc_t a =
      matrixDesc(shape.m, shape.k, shape.transA, dnnl_bf16, shape);
  const dnnl_memory_desc_t b =
      matrixDesc(shape.k, shape.n, shape.transB, dnnl_bf16, shape);
  const dnnl_memory_desc_t c =
      matrixDesc(shape.m, shape.n, false, dnnl_f32, shape);
  dnnl_matmul_desc_t desc;
  check(dnnl_matmul_desc_init(&desc, &a, &b, nullptr, &c),
        "dnnl_matmul_desc_init", shape);
  // Accumulating is a sum post-op: c = 1·c + op(a) · op(b).
  dnnl_primitive_attr_t attr;
  check(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create", shape);
  if (shape.accumulate) {
    dnnl_post_ops_t postOps;
    check(dnnl_post_ops_create(&postOps), "dnnl_post_ops_create", shape);
    check(dnnl_post_ops_append_sum(postOps, 1.0f), "dnnl_post_ops_append_sum",
          shape);
    check(dnnl_primitive_attr_set_post_ops(attr, postOps),
          "dnnl_primitive_attr_set_post_ops", shape);
    check(dnnl_post_ops_destroy(postOps), "dnnl_post_ops_destroy", shape);
  }
  dnnl_primitive_desc_t primitiveDesc;
  check(dnnl_primitive_desc_create(&primitiveDesc, &desc, attr,
                                   dnnl(shape).engine, nullptr),
        "dnnl_primitive_desc_create", shape);
  check(dnnl_primitive_attr_destroy(attr), "dnnl_primitive_attr_destroy",
        shape);
  check(dnnl_primitive_create(&entry->second, primitiveDesc),
        "dnnl_primitive_create", shape);
  check(dnnl_primitive_desc_destroy(primitiveDesc),
        "dnnl_primitive_desc_destroy", shape);
  return entry->second;
}

/// A oneDNN memory object over a caller's buffer, destroyed with the
/// wrapper (the buffer is not owned).
class Memory {
public:
  Memory(const dnnl_memory_desc_t *desc, const void *data,
         const MatmulShape &shape) {
    check(dnnl_memory_create(&memory, desc, dnnl(shape).engine,
                             const_cast<void *>(data)),
          "dnnl_memory_create", shape);
  }
  ~Memory() { dnnl_memory_destroy(memory); }
  Memory(const Memory &) = delete;
  Memory &operator=(const Memory &) = delete;

  dnnl_memory_t get() const { return memory; }

private:
  dnnl_memory_t memory;
};

/// c = op(a) · op(b), or c += it, as `shape` describes.
void matmulBf16(const MatmulShape &shape,
                const uint16_t *a, // op(a) [m, k]
                const uint16_t *b, // op(b) [k, n]
                float *c) {        // [m, n]
  if (shape.m == 0 || shape.n == 0)
    return;
  // The empty sum: oneDNN would leave c alone.
  if (shape.k == 0) {
    if (!shape.accumulate)
      fill(c, shape.m * shape.n, 0.0f);
    return;
  }
  const_dnnl_primitive_t primitive = matmulPrimitive(shape);
  const_dnnl_primitive_desc_t primitiveDesc;
  check(dnnl_primitive_get_primitive_desc(primitive, &primitiveDesc),
        "dnnl_primitive_get_primitive_desc", shape);
  const Memory aMemory(
      dnnl_primitive_desc_query_md(primitiveDesc, dnnl_query_src_md, 0), a,
      shape);
  const Memory bMemory(
      dnnl_primitive_desc_query_md(primitiveDesc, dnnl_query_weights_md, 0), b,
      shape);
  const Memory cMemory(
      dnnl_primitive_desc_query_md(primitiveDesc, dnnl_query_dst_md, 0), c,
      shape);
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, aMemory.get()},
                                  {DNNL_ARG_WEIGHTS, bMemory.get()},
                                  {DNNL_ARG_DST, cMemory.get()}};
  const dnnl_stream_t stream = dnnl(shape).stream;
  check(dnnl_primitive_execute(primitive, stream, 3, args),
        "dnnl_primitive_execute", shape);
  check(dnnl_stream_wait(stream), "dnnl_stream_wait", shape);
}

#ifdef __AVX512BF16__
/// Values per chunk of the matrix-vector product: one vector of bfloat16.
constexpr int64_t kChunk = 32;

/// The mask of the first n lanes of 16 (none when n <= 0).
__mmask16 firstLanes(int64_t n) {
  return n >= 16 ? 0xFFFF
                 : static_cast<__mmask16>((1u << std::max<int64_t>(n, 0)) - 1);
}

/// The first min(n, kChunk) floats at p rounded to bfloat16 (ties to even),
/// in order and zero-padded to kChunk values (the masked loads read nothing
/// past the n-th float).
__m512bh chunkToBf16(const float *p, int64_t n) {
  return _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(firstLanes(n - 16), p + 16),
                             _mm512_maskz_loadu_ps(firstLanes(n), p));
}

/// The sum of the 16 floats of v: each step adds the lanes `half` above
/// onto the lower ones. (GCC 12 warns of an uninitialised variable inside
/// _mm512_reduce_add_ps and the other shuffle intrinsics, not inside
/// _mm512_permutex2var_ps.)
float horizontalSum(__m512 v) {
  const __m512i lanes =
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  for (int half = 8; half >= 1; half /= 2)
    v = _mm512_add_ps(
        v, _mm512_permutex2var_ps(
               v, _mm512_add_epi32(lanes, _mm512_set1_epi32(half)), v));
  return _mm512_cvtss_f32(v);
}

/// y[Rows, out] = x[Rows, in] · w[out, in]ᵀ for the few rows of a decode
/// step, x and w rounded to bf16 and the products summed in float by
/// _mm512_dpbf16_ps: one pass over the weights, each chunk of a weight row
/// rounded once and multiplied with every row of x, kOutputs weight rows at
/// a time for as many independent sums.
template <int Rows>
void gemvBf16(const float *x, // [Rows, in]
              const float *w, // [out, in]
              float *y,       // [Rows, out]
              int64_t in, int64_t out) {
  constexpr int64_t kOutputs = 4;
  const int64_t chunks = (in + kChunk - 1) / kChunk;
  // x rounded, [Rows, chunks] vectors of kChunk bfloat16 (64 bytes each).
  __m512bh *xBf16 = reinterpret_cast<__m512bh *>(
      workspace(0, Rows * chunks * static_cast<int64_t>(sizeof(__m512bh)) /
                       static_cast<int64_t>(sizeof(float))));
  for (int r = 0; r < Rows; ++r)
    for (int64_t c = 0; c < chunks; ++c)
      xBf16[r * chunks + c] =
          chunkToBf16(x + r * in + c * kChunk, in - c * kChunk);
  const int64_t blocks = (out + kOutputs - 1) / kOutputs;
#pragma omp parallel for schedule(static) if (out * in >= kParallelThreshold)
  for (int64_t block = 0; block < blocks; ++block) {
    // The last block repeats output out - 1 in place of those past the end.
    int64_t outputs[kOutputs];
    for (int64_t j = 0; j < kOutputs; ++j)
      outputs[j] = std::min(block * kOutputs + j, out - 1);
    __m512 sums[kOutputs][Rows];
    for (int64_t j = 0; j < kOutputs; ++j)
      for (int r = 0; r < Rows; ++r)
        sums[j][r] = _mm512_setzero_ps();
    for (int64_t c = 0; c < chunks; ++c)
      for (int64_t j = 0; j < kOutputs; ++j) {
        const __m512bh wChunk =
            chunkToBf16(w + outputs[j] * in + c * kChunk, in - c * kChunk);
        for (int r = 0; r < Rows; ++r)
          sums[j][r] =
              _mm512_dpbf16_ps(sums[j][r], xBf16[r * chunks + c], wChunk);
      }
    for (int64_t j = 0; j < kOutputs; ++j)
      for (int r = 0; r < Rows; ++r)
        y[r * out + outputs[j]] = horizontalSum(sums[j][r]);
  }
}
#endif

} // namespace

void toBf16(const float *x, // [n]
            uint16_t *bf16, // [n]
            int64_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i)
    bf16[i] = f32ToBf16(x[i]);
}

void gemmBf16(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
              const uint16_t *a, // op(a) [m, k]
              const uint16_t *b, // op(b) [k, n]
              float *c,          // [m, n]
              bool accumulate) {
  matmulBf16({m, k, n, transA, transB, accumulate, omp_get_max_threads()}, a, b,
             c);
}

void linearBf16(const float *x, // [rows, in]
                const float *w, // [out, in]
                float *y,       // [rows, out]
                int64_t rows, int64_t in, int64_t out) {
#ifdef __AVX512BF16__
  // A decode step: stream the float weights once, rounding them in
  // registers, rather than write and read a bf16 copy of them for the
  // matmul primitive (which measured 0.3-0.7 times as fast).
  switch (rows) {
  case 1:
    return gemvBf16<1>(x, w, y, in, out);
  case 2:
    return gemvBf16<2>(x, w, y, in, out);
  case 3:
    return gemvBf16<3>(x, w, y, in, out);
  case 4:
    return gemvBf16<4>(x, w, y, in, out);
  }
#endif
  uint16_t *xBf16 = bf16Workspace(0, rows * in); // [rows, in]
  uint16_t *wBf16 = bf16Workspace(1, out * in);  // [out, in]
  toBf16(x, xBf16, rows * in);
  toBf16(w, wBf16, out * in);
  gemmBf16(false, true, rows, out, in, xBf16, wBf16, y, /*accumulate=*/false);
}

void linearBackwardBf16(const float *dy, // [rows, out]
                        const float *x,  // [rows, in]
                        const float *w,  // [out, in]
                        float *dx,       // [rows, in]
                        float *dw,       // [out, in]
                        int64_t rows, int64_t in, int64_t out) {
  uint16_t *dyBf16 = bf16Workspace(0, rows * out); // [rows, out]
  uint16_t *xBf16 = bf16Workspace(1, rows * in);   // [rows, in]
  uint16_t *wBf16 = bf16Workspace(2, out * in);    // [out, in]
  toBf16(dy, dyBf16, rows * out);
  toBf16(x, xBf16, rows * in);
  toBf16(w, wBf16, out * in);
  // dx = dy · w, then dw = dyᵀ · x.
  gemmBf16(false, false, rows, in, out, dyBf16, wBf16, dx,
           /*accumulate=*/false);
  gemmBf16(true, false, out, in, rows, dyBf16, xBf16, dw, /*accumulate=*/false);
}

} // namespace gptc::cpu
