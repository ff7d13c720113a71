//===- Optimizer.cu - the optimizer's math on the GPU ---------------------===//
//
// Launches of kernels/Optimizer.cuh and, for Newton-Schulz, gemm. Muon's
// workspace holds the sum of squares and its partials, the iterate X and
// the next one, and A = XXᵀ and B = bA + cA², each piece 256-byte aligned.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Blas.h"
#include "backends/cuda/Device.h"
#include "backends/cuda/Launch.h"
#include "backends/cuda/TrainOps.h"
#include "backends/cuda/kernels/Optimizer.cuh"

#include <algorithm>
#include <utility>

namespace gptc::cuda {
namespace {

using namespace kernels;

/// Blocks of kBlockThreads threads for a grid-stride loop over n >= 1
/// elements.
dim3 elementwiseGrid(int64_t n) { return gridStrideBlocks(n, kBlockThreads); }

/// The byte offsets of the pieces of Muon's workspace for [rows, cols].
struct MuonWorkspace {
  static constexpr size_t kAlignment = 256;

  size_t partials, sum; // double [kSumOfSquaresBlocks], [1]
  size_t x, next;       // float [rows, cols]
  size_t a, b;          // float [s, s], s = min(rows, cols)
  size_t bytes;         // the whole workspace

  MuonWorkspace(int64_t rows, int64_t cols) {
    const size_t n = size_t(rows * cols);
    const size_t s = size_t(std::min(rows, cols));
    size_t end = 0;
    auto take = [&](size_t pieceBytes) {
      const size_t offset = end;
      end += (pieceBytes + kAlignment - 1) / kAlignment * kAlignment;
      return offset;
    };
    partials = take(sizeof(double) * size_t(kSumOfSquaresBlocks));
    sum = take(sizeof(double));
    x = take(sizeof(float) * n);
    next = take(sizeof(float) * n);
    a = take(sizeof(float) * s * s);
    b = take(sizeof(float) * s * s);
    bytes = end;
  }
};

template <typename T> T *piece(void *workspace, size_t offset) {
  return reinterpret_cast<T *>(static_cast<char *>(workspace) + offset);
}

/// Runs the Newton-Schulz iteration on x [rows, cols], normalised already,
/// using `next` [rows, cols], a and b [s, s] as workspace; returns which of
/// x and next holds the result. With rows <= cols, X = x and each step is
/// A = x xᵀ, next = a x + B x; otherwise X = xᵀ and the same step reads
/// A = xᵀ x, next = a x + x Bᵀ.
float *iterate(float *x, float *next, float *a, float *b, int64_t rows,
               int64_t cols, const NewtonSchulzParameters &ns) {
  const bool tall = rows > cols;
  const int64_t s = std::min(rows, cols), n = rows * cols;
  for (int step = 0; step < ns.steps; ++step) {
    // A [s, s] = X Xᵀ.
    gemm(tall, !tall, s, s, tall ? rows : cols, 1.0f, x, cols, x, cols, 0.0f, a,
         s, GemmInputs::F32);
    // B = b A + c A A.
    storeScaled(a, b, s * s, ns.b);
    gemm(false, false, s, s, s, ns.c, a, s, a, s, 1.0f, b, s, GemmInputs::F32);
    // X = a X + B X.
    storeScaled(x, next, n, ns.a);
    if (tall)
      gemm(false, true, rows, cols, cols, 1.0f, x, cols, b, cols, 1.0f, next,
           cols, GemmInputs::F32);
    else
      gemm(false, false, rows, cols, rows, 1.0f, b, rows, x, cols, 1.0f, next,
           cols, GemmInputs::F32);
    std::swap(x, next);
  }
  return x;
}

/// Newton-Schulz of g [rows, cols] on `workspace`; returns where the result
/// is, within the workspace.
float *orthogonalize(const float *g, int64_t rows, int64_t cols,
                     const NewtonSchulzParameters &ns, void *workspace) {
  const MuonWorkspace layout(rows, cols);
  double *sum = piece<double>(workspace, layout.sum);
  float *x = piece<float>(workspace, layout.x);
  sumOfSquares(g, rows * cols, piece<double>(workspace, layout.partials), sum);
  normalizeByNorm(g, x, rows * cols, sum, ns.normEps);
  return iterate(x, piece<float>(workspace, layout.next),
                 piece<float>(workspace, layout.a),
                 piece<float>(workspace, layout.b), rows, cols, ns);
}

} // namespace

void sumOfSquares(const float *x, // [n]
                  int64_t n,
                  double *partials, // [kSumOfSquaresBlocks]
                  double *result) { // [1]
  const int64_t blocks =
      std::max<int64_t>(1, std::min(kSumOfSquaresBlocks,
                                    (n + kBlockThreads - 1) / kBlockThreads));
  launch("sumOfSquaresPartials", &sumOfSquaresPartialsKernel,
         dim3(unsigned(blocks)), dim3(kBlockThreads), 0, x, n, partials);
  launch("sumPartials", &sumPartialsKernel, dim3(1), dim3(kBlockThreads), 0,
         partials, blocks, result);
}

void addScaled(float *y,       // [n]
               const float *x, // [n]
               int64_t n, float alpha) {
  if (n > 0)
    launch("addScaled", &addScaledKernel, elementwiseGrid(n),
           dim3(kBlockThreads), 0, y, x, n, alpha);
}

void storeScaled(const float *x, // [n]
                 float *y,       // [n]
                 int64_t n, float factor) {
  if (n > 0)
    launch("storeScaled", &storeScaledKernel, elementwiseGrid(n),
           dim3(kBlockThreads), 0, x, y, n, factor);
}

void adamwUpdate(float *param,      // [n]
                 const float *grad, // [n]
                 float *m,          // [n]
                 float *v,          // [n]
                 int64_t n, float beta1, float beta2, float eps, float stepSize,
                 float bias2Sqrt) {
  if (n > 0)
    launch("adamwUpdate", &adamwKernel, elementwiseGrid(n), dim3(kBlockThreads),
           0, param, grad, m, v, n, beta1, beta2, eps, stepSize, bias2Sqrt);
}

void muonMomentum(const float *grad, // [n]
                  float *momentum,   // [n]
                  float *update,     // [n]
                  int64_t n, float mu) {
  if (n > 0)
    launch("muonMomentum", &muonMomentumKernel, elementwiseGrid(n),
           dim3(kBlockThreads), 0, grad, momentum, update, n, mu);
}

void normalizeByNorm(const float *x, // [n]
                     float *y,       // [n]
                     int64_t n,
                     const double *sumOfSquares, // [1]
                     double eps) {
  if (n > 0)
    launch("normalizeByNorm", &normalizeKernel, elementwiseGrid(n),
           dim3(kBlockThreads), 0, x, y, n, sumOfSquares, eps);
}

size_t muonWorkspaceBytes(int64_t rows, int64_t cols) {
  return MuonWorkspace(rows, cols).bytes;
}

void newtonSchulz(const float *g, // [rows, cols]
                  float *out,     // [rows, cols]
                  int64_t rows, int64_t cols, const NewtonSchulzParameters &ns,
                  void *workspace) {
  const float *result = orthogonalize(g, rows, cols, ns, workspace);
  copyOnDevice(out, result, sizeof(float) * size_t(rows * cols));
}

void muonUpdate(float *param,      // [rows, cols]
                const float *grad, // [rows, cols]
                float *momentum,   // [rows, cols]
                int64_t rows, int64_t cols, float mu, float lr,
                const NewtonSchulzParameters &ns, void *workspace) {
  const MuonWorkspace layout(rows, cols);
  // The Nesterov update waits in the iteration's `next` buffer, which
  // orthogonalize reads (normalising it into x) before the first step
  // overwrites it.
  float *update = piece<float>(workspace, layout.next);
  muonMomentum(grad, momentum, update, rows * cols, mu);
  addScaled(param, orthogonalize(update, rows, cols, ns, workspace),
            rows * cols, -lr);
}

} // namespace gptc::cuda
