//===- TrainOps.h - the optimizer's math on the GPU -------------*- C++ -*-===//
//
// What the training loop does to parameters and gradients between the
// generated train_step calls, on device memory: the global gradient norm,
// gradient accumulation and scaling, AdamW and Muon (Newton-Schulz through
// gemm). backends/cuda/HostDevice.cpp implements the host programs'
// Device.h with these; the math is that of backends/host/DeviceCpu.cpp, up
// to the order of floating-point sums. Work is queued on gptc's stream;
// nothing here waits for the device or copies to the host, so every op may
// be captured into a CUDA graph.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_TRAINOPS_H
#define GPTC_BACKENDS_CUDA_TRAINOPS_H

#include <cstddef>
#include <cstdint>

namespace gptc::cuda {

/// Blocks of sumOfSquares' first pass, at most: the doubles of `partials`.
constexpr int64_t kSumOfSquaresBlocks = 512;

/// result[1] = the sum of x[i]² over x[n], in double: each block of the
/// first pass sums a grid-stride share into partials[kSumOfSquaresBlocks],
/// and one block adds those in a fixed order, so that a given n always sums
/// in the same order.
void sumOfSquares(const float *x, int64_t n, double *partials, double *result);

/// y[n] += alpha · x[n].
void addScaled(float *y, const float *x, int64_t n, float alpha);

/// y[n] = factor · x[n]; y may be x.
void storeScaled(const float *x, float *y, int64_t n, float factor);

/// One AdamW step on param[n] with grad[n] and the moments m[n], v[n]:
/// m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g², param -=
/// stepSize m / (sqrt(v) / bias2Sqrt + eps).
void adamwUpdate(float *param, const float *grad, float *m, float *v, int64_t n,
                 float beta1, float beta2, float eps, float stepSize,
                 float bias2Sqrt);

/// Muon's momentum on n elements: momentum = lerp(momentum, grad, 1 - mu),
/// then the Nesterov update = lerp(grad, momentum, mu).
void muonMomentum(const float *grad, float *momentum, float *update, int64_t n,
                  float mu);

/// y[n] = x[n] · float(1 / (sqrt(sumOfSquares[0]) + eps)), the scale
/// computed in double on the device; y may be x.
void normalizeByNorm(const float *x, float *y, int64_t n,
                     const double *sumOfSquares, double eps);

/// The quintic Newton-Schulz iteration X <- aX + (bA + cA²)X, A = XXᵀ, run
/// `steps` times on X = G / (||G||_F + normEps).
struct NewtonSchulzParameters {
  float a, b, c;
  int steps;
  double normEps;
};

/// Bytes of the `workspace` newtonSchulz and muonUpdate need for a
/// [rows, cols] matrix.
size_t muonWorkspaceBytes(int64_t rows, int64_t cols);

/// out = NS(g), g and out [rows, cols] (they may be the same buffer). The
/// iteration runs on the wide orientation, X = g for rows <= cols and X = gᵀ
/// otherwise, by the gemm's transposes rather than a transposed copy.
void newtonSchulz(const float *g, float *out, int64_t rows, int64_t cols,
                  const NewtonSchulzParameters &ns, void *workspace);

/// One Muon step on param [rows, cols]: muonMomentum, then param -= lr ·
/// NS(update).
void muonUpdate(float *param, const float *grad, float *momentum, int64_t rows,
                int64_t cols, float mu, float lr,
                const NewtonSchulzParameters &ns, void *workspace);

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_TRAINOPS_H
