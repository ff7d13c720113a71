//===- Reference.h - double-precision kernel references --------*- C++ -*-===//
//
// Plain, deliberately naive implementations of the CPU kernels and of their
// gradients in double precision, written from the kernels' specifications
// and not from their code, plus seeded random inputs, a tolerance check,
// central finite differences and a thread-count guard. Used only by the
// kernel tests. Shapes use llm.c letters as in backends/cpu/Kernels.h. The
// references take float inputs (to check a kernel on the same inputs) or
// double ones (to differentiate them numerically): `Real` is either.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_TESTS_UNIT_CPU_REFERENCE_H
#define GPTC_TESTS_UNIT_CPU_REFERENCE_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <omp.h>

namespace gptc::cpu::ref {

/// n floats drawn uniformly from [lo, hi) with a fixed seed.
inline std::vector<float> randomFloats(int64_t n, uint32_t seed,
                                       float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(lo, hi);
  std::vector<float> values(n);
  for (float &value : values)
    value = distribution(generator);
  return values;
}

/// n integers drawn uniformly from [lo, hi) with a fixed seed.
inline std::vector<int32_t> randomInts(int64_t n, uint32_t seed, int32_t lo,
                                       int32_t hi) {
  std::mt19937 generator(seed);
  std::uniform_int_distribution<int32_t> distribution(lo, hi - 1);
  std::vector<int32_t> values(n);
  for (int32_t &value : values)
    value = distribution(generator);
  return values;
}

/// Runs the kernels of its scope on `threads` OpenMP threads.
class ThreadCount {
public:
  explicit ThreadCount(int threads) : saved(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ThreadCount() { omp_set_num_threads(saved); }
  ThreadCount(const ThreadCount &) = delete;
  ThreadCount &operator=(const ThreadCount &) = delete;

private:
  int saved;
};

/// Success when got and want have the same size and every element satisfies
/// |got - want| <= atol + rtol·|want| (a NaN anywhere is a mismatch);
/// otherwise a failure naming the mismatch count and the worst element.
template <typename Real>
::testing::AssertionResult allClose(const std::vector<Real> &got,
                                    const std::vector<double> &want,
                                    double atol, double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << "size " << got.size() << " != expected " << want.size();
  size_t mismatches = 0, worst = 0;
  double worstExcess = -1.0;
  for (size_t i = 0; i < got.size(); ++i) {
    double error = std::fabs(static_cast<double>(got[i]) - want[i]);
    double excess = error - (atol + rtol * std::fabs(want[i]));
    if (std::isnan(excess))
      excess = std::numeric_limits<double>::infinity();
    if (excess > 0.0)
      ++mismatches;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (mismatches == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << mismatches << " of " << got.size()
         << " elements out of tolerance (atol " << atol << ", rtol " << rtol
         << "); worst at index " << worst << ": got " << got[worst]
         << ", expected " << want[worst];
}

/// Widens floats to doubles (for comparisons against float results).
inline std::vector<double> widen(const std::vector<float> &values) {
  return std::vector<double>(values.begin(), values.end());
}

/// x rounded to bfloat16 (8 significant bits, ties to even, the float
/// exponent range, overflow to infinity), by arithmetic on doubles.
inline double roundBf16(float x) {
  if (std::isnan(x) || std::isinf(x) || x == 0.0f)
    return x;
  int exponent;
  std::frexp(x, &exponent); // |x| in [2^(exponent-1), 2^exponent)
  // bfloat16 subnormals share the smallest normal exponent, -126.
  const int quantumExponent = std::max(exponent - 1, -126) - 7;
  const double quantum = std::ldexp(1.0, quantumExponent);
  // nearbyint rounds ties to even in the default rounding mode.
  const double rounded = std::nearbyint(x / quantum) * quantum;
  if (std::fabs(rounded) >= std::ldexp(1.0, 128))
    return std::copysign(std::numeric_limits<double>::infinity(), x);
  return rounded;
}

/// y[rows, out] = x[rows, in] · w[out, in]ᵀ.
template <typename Real>
std::vector<double> linear(const std::vector<Real> &x,
                           const std::vector<Real> &w, int64_t rows, int64_t in,
                           int64_t out) {
  std::vector<double> y(rows * out, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i)
        y[r * out + o] += static_cast<double>(x[r * in + i]) * w[o * in + i];
  return y;
}

/// out[n, C] = table[V, C][ids[n], :].
template <typename Real>
std::vector<double> embedding(const std::vector<Real> &table,
                              const std::vector<int32_t> &ids, int64_t C) {
  std::vector<double> out;
  for (int32_t id : ids)
    for (int64_t c = 0; c < C; ++c)
      out.push_back(table[id * C + c]);
  return out;
}

/// y[rows, cols] = x / sqrt(mean(x²) + eps) per row.
template <typename Real>
std::vector<double> rmsNorm(const std::vector<Real> &x, int64_t rows,
                            int64_t cols, float eps) {
  std::vector<double> y(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    double meanSquare = 0.0;
    for (int64_t c = 0; c < cols; ++c)
      meanSquare += static_cast<double>(x[r * cols + c]) * x[r * cols + c];
    meanSquare /= static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = x[r * cols + c] / std::sqrt(meanSquare + eps);
  }
  return y;
}

/// Rotary embedding of x[B, T, H, D], by −angle when `inverse`. The cos/sin
/// tables follow the specification literally (float32 inverse frequencies
/// and angles, as torch computes nanochat's buffers, optionally rounded to
/// bfloat16); the rotation itself is done in double. With exactAngles the
/// tables are instead cos/sin of the exact angle t / base^(2j/D) in double.
template <typename Real>
std::vector<double> rope(const std::vector<Real> &x, int64_t B, int64_t T,
                         int64_t H, int64_t D, float base, bool roundToBf16,
                         bool inverse = false, bool exactAngles = false) {
  const int64_t half = D / 2;
  std::vector<double> cosTable(T * half), sinTable(T * half);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < half; ++j) {
      double c, s;
      if (exactAngles) {
        const double angle =
            t / std::pow(static_cast<double>(base), 2.0 * j / D);
        c = std::cos(angle);
        s = std::sin(angle);
      } else {
        const float inverseFrequency =
            1.0f /
            std::pow(base, static_cast<float>(2 * j) / static_cast<float>(D));
        const float angle = static_cast<float>(t) * inverseFrequency;
        const float cosF = std::cos(angle), sinF = std::sin(angle);
        c = roundToBf16 ? roundBf16(cosF) : cosF;
        s = roundToBf16 ? roundBf16(sinF) : sinF;
      }
      cosTable[t * half + j] = c;
      sinTable[t * half + j] = inverse ? -s : s;
    }
  }
  std::vector<double> y(x.size());
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < H; ++h) {
        const int64_t head = ((b * T + t) * H + h) * D;
        for (int64_t j = 0; j < half; ++j) {
          const double a = x[head + j], bPart = x[head + j + half];
          const double c = cosTable[t * half + j], s = sinTable[t * half + j];
          y[head + j] = a * c + bPart * s;
          y[head + j + half] = -a * s + bPart * c;
        }
      }
    }
  }
  return y;
}

/// Mean over non-ignored rows of logsumexp(logits[r]) − logits[r, target];
/// NaN when every row is ignored.
template <typename Real>
double crossEntropy(const std::vector<Real> &logits,
                    const std::vector<int32_t> &targets, int64_t V,
                    int32_t ignoreIndex) {
  double total = 0.0;
  int64_t counted = 0;
  for (size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] == ignoreIndex)
      continue;
    double maximum = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < V; ++j)
      maximum = std::max(maximum, static_cast<double>(logits[r * V + j]));
    double sum = 0.0;
    for (int64_t j = 0; j < V; ++j)
      sum += std::exp(logits[r * V + j] - maximum);
    total += maximum + std::log(sum) - logits[r * V + targets[r]];
    ++counted;
  }
  return counted == 0 ? std::numeric_limits<double>::quiet_NaN()
                      : total / counted;
}

/// Softmax of x[rows, cols] over the last axis.
inline std::vector<double> softmax(const std::vector<float> &x, int64_t rows,
                                   int64_t cols) {
  std::vector<double> y(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    double maximum = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < cols; ++j)
      maximum = std::max(maximum, static_cast<double>(x[r * cols + j]));
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j)
      sum += std::exp(x[r * cols + j] - maximum);
    for (int64_t j = 0; j < cols; ++j)
      y[r * cols + j] = std::exp(x[r * cols + j] - maximum) / sum;
  }
  return y;
}

/// s[B, H, T, T] = scale · q[B, T, H, D] · k[B, T, Hkv, D]ᵀ, query head h
/// reading kv head h / (H / Hkv).
inline std::vector<double> attnScores(const std::vector<float> &q,
                                      const std::vector<float> &k, int64_t B,
                                      int64_t T, int64_t H, int64_t Hkv,
                                      int64_t D, float scale) {
  std::vector<double> s(B * H * T * T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j) {
          double dot = 0.0;
          for (int64_t d = 0; d < D; ++d)
            dot += static_cast<double>(q[((b * T + i) * H + h) * D + d]) *
                   k[((b * T + j) * Hkv + h / (H / Hkv)) * D + d];
          s[((b * H + h) * T + i) * T + j] = scale * dot;
        }
  return s;
}

/// o[B, T, H, D] = p[B, H, T, T] · v[B, T, Hkv, D] with the head mapping of
/// attnScores.
inline std::vector<double> attnApply(const std::vector<float> &p,
                                     const std::vector<float> &v, int64_t B,
                                     int64_t T, int64_t H, int64_t Hkv,
                                     int64_t D) {
  std::vector<double> o(B * T * H * D, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j)
          for (int64_t d = 0; d < D; ++d)
            o[((b * T + i) * H + h) * D + d] +=
                static_cast<double>(p[((b * H + h) * T + i) * T + j]) *
                v[((b * T + j) * Hkv + h / (H / Hkv)) * D + d];
  return o;
}

/// Causal attention in double: returns o [B, T, H, D] and fills lse
/// [B, H, T] with the natural-log log-sum-exp of each row's visible scores.
template <typename Real>
std::vector<double>
causalAttention(const std::vector<Real> &q, const std::vector<Real> &k,
                const std::vector<Real> &v, int64_t B, int64_t T, int64_t H,
                int64_t Hkv, int64_t D, float scale, std::vector<double> &lse) {
  std::vector<double> o(B * T * H * D, 0.0);
  lse.assign(B * H * T, 0.0);
  std::vector<double> scores(T);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvHead = h / (H / Hkv);
      for (int64_t i = 0; i < T; ++i) {
        double maximum = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0.0;
          for (int64_t d = 0; d < D; ++d)
            dot += static_cast<double>(q[((b * T + i) * H + h) * D + d]) *
                   k[((b * T + j) * Hkv + kvHead) * D + d];
          scores[j] = scale * dot;
          maximum = std::max(maximum, scores[j]);
        }
        double sum = 0.0;
        for (int64_t j = 0; j <= i; ++j)
          sum += std::exp(scores[j] - maximum);
        for (int64_t j = 0; j <= i; ++j) {
          const double weight = std::exp(scores[j] - maximum) / sum;
          for (int64_t d = 0; d < D; ++d)
            o[((b * T + i) * H + h) * D + d] +=
                weight * v[((b * T + j) * Hkv + kvHead) * D + d];
        }
        lse[(b * H + h) * T + i] = maximum + std::log(sum);
      }
    }
  }
  return o;
}

/// y[n] = relu(x[n])².
template <typename Real>
std::vector<double> reluSquare(const std::vector<Real> &x) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = x[i] > 0 ? static_cast<double>(x[i]) * x[i] : 0.0;
  return y;
}

/// y[n] = cap · tanh(x[n] / cap).
template <typename Real>
std::vector<double> softcap(const std::vector<Real> &x, float cap) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = cap * std::tanh(static_cast<double>(x[i]) / cap);
  return y;
}

/// Mean over non-ignored rows of the cross-entropy of the soft-capped
/// logits cap·tanh(x[rows, C] · w[V, C]ᵀ / cap); NaN when every row is
/// ignored.
template <typename Real>
double lmHeadLoss(const std::vector<Real> &x, const std::vector<Real> &w,
                  const std::vector<int32_t> &targets, int64_t C, int64_t V,
                  float cap, int32_t ignoreIndex) {
  const int64_t rows = static_cast<int64_t>(targets.size());
  return crossEntropy(softcap(linear(x, w, rows, C, V), cap), targets, V,
                      ignoreIndex);
}

//===----------------------------------------------------------------------===//
// Gradients, derived by hand from the forward references above (and checked
// against them by finite differences in the tests).
//===----------------------------------------------------------------------===//

/// Σ a[i]·b[i]: with b = dy, the scalar whose gradient a backward computes.
inline double dot(const std::vector<double> &a, const std::vector<double> &b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    sum += a[i] * b[i];
  return sum;
}

/// ∂f/∂x[i] for every i by central differences,
/// (f(x + h·e_i) − f(x − h·e_i)) / 2h. The error is about h²·|f‴|/6 from
/// truncation plus 2^-53·|f|/h from rounding: near 1e-10·|f| at h = 1e-6.
template <typename Function>
std::vector<double> finiteDifferences(Function f, std::vector<double> x,
                                      double h = 1e-6) {
  std::vector<double> gradient(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double above = f(x);
    x[i] = saved - h;
    const double below = f(x);
    x[i] = saved;
    gradient[i] = (above - below) / (2.0 * h);
  }
  return gradient;
}

/// dtable[V, C] = Σ over positions p with ids[p] = id of dy[p, :].
template <typename Real>
std::vector<double> embeddingBackward(const std::vector<int32_t> &ids,
                                      const std::vector<Real> &dy, int64_t V,
                                      int64_t C) {
  std::vector<double> dtable(V * C, 0.0);
  for (size_t p = 0; p < ids.size(); ++p)
    for (int64_t c = 0; c < C; ++c)
      dtable[ids[p] * C + c] += dy[p * C + c];
  return dtable;
}

/// dx[rows, cols] of rmsNorm: with r = 1/sqrt(mean(x²) + eps),
/// ∂y_c/∂x_k = r·[c = k] − r³·x_c·x_k/cols, so
/// dx_k = r·dy_k − r³·x_k·Σ_c dy_c·x_c / cols.
template <typename Real>
std::vector<double> rmsNormBackward(const std::vector<Real> &x,
                                    const std::vector<Real> &dy, int64_t rows,
                                    int64_t cols, float eps) {
  std::vector<double> dx(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    double meanSquare = 0.0, meanProduct = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      meanSquare += static_cast<double>(x[r * cols + c]) * x[r * cols + c];
      meanProduct += static_cast<double>(dy[r * cols + c]) * x[r * cols + c];
    }
    meanSquare /= static_cast<double>(cols);
    meanProduct /= static_cast<double>(cols);
    const double inverseRms = 1.0 / std::sqrt(meanSquare + eps);
    for (int64_t c = 0; c < cols; ++c)
      dx[r * cols + c] =
          inverseRms * dy[r * cols + c] -
          std::pow(inverseRms, 3) * meanProduct * x[r * cols + c];
  }
  return dx;
}

/// dx[n] of reluSquare: 2·relu(x)·dy.
template <typename Real>
std::vector<double> reluSquareBackward(const std::vector<Real> &x,
                                       const std::vector<Real> &dy) {
  std::vector<double> dx(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    dx[i] = x[i] > 0 ? 2.0 * x[i] * dy[i] : 0.0;
  return dx;
}

/// Gradients of linear: dx[rows, in] = dy[rows, out] · w[out, in] and
/// dw[out, in] = dyᵀ · x[rows, in].
template <typename Real>
void linearBackward(const std::vector<Real> &dy, const std::vector<Real> &x,
                    const std::vector<Real> &w, int64_t rows, int64_t in,
                    int64_t out, std::vector<double> &dx,
                    std::vector<double> &dw) {
  dx.assign(rows * in, 0.0);
  dw.assign(out * in, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        dx[r * in + i] += static_cast<double>(dy[r * out + o]) * w[o * in + i];
        dw[o * in + i] += static_cast<double>(dy[r * out + o]) * x[r * in + i];
      }
}

/// Gradients of causalAttention for the output gradient dout [B, T, H, D],
/// from scratch (the weights are recomputed in double): with P the softmax
/// weights of row i, dP_ij = dO_i·v_j, dS_ij = P_ij·(dP_ij − Σ_l P_il·dP_il),
/// dq_i = scale·Σ_j dS_ij·k_j, dk_j = scale·Σ_i dS_ij·q_i and
/// dv_j = Σ_i P_ij·dO_i, dk and dv summed over the heads of a group.
template <typename Real>
void causalAttentionBackward(const std::vector<Real> &q,
                             const std::vector<Real> &k,
                             const std::vector<Real> &v,
                             const std::vector<Real> &dout, int64_t B,
                             int64_t T, int64_t H, int64_t Hkv, int64_t D,
                             float scale, std::vector<double> &dq,
                             std::vector<double> &dk, std::vector<double> &dv) {
  dq.assign(B * T * H * D, 0.0);
  dk.assign(B * T * Hkv * D, 0.0);
  dv.assign(B * T * Hkv * D, 0.0);
  std::vector<double> weights(T), weightGrads(T);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvHead = h / (H / Hkv);
      for (int64_t i = 0; i < T; ++i) {
        const int64_t qRow = ((b * T + i) * H + h) * D;
        double maximum = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j <= i; ++j) {
          const int64_t kRow = ((b * T + j) * Hkv + kvHead) * D;
          double score = 0.0, weightGrad = 0.0;
          for (int64_t d = 0; d < D; ++d) {
            score += static_cast<double>(q[qRow + d]) * k[kRow + d];
            weightGrad += static_cast<double>(dout[qRow + d]) * v[kRow + d];
          }
          weights[j] = scale * score;
          weightGrads[j] = weightGrad;
          maximum = std::max(maximum, weights[j]);
        }
        double sum = 0.0;
        for (int64_t j = 0; j <= i; ++j) {
          weights[j] = std::exp(weights[j] - maximum);
          sum += weights[j];
        }
        double expectedGrad = 0.0;
        for (int64_t j = 0; j <= i; ++j) {
          weights[j] /= sum;
          expectedGrad += weights[j] * weightGrads[j];
        }
        for (int64_t j = 0; j <= i; ++j) {
          const int64_t kRow = ((b * T + j) * Hkv + kvHead) * D;
          const double scoreGrad = weights[j] * (weightGrads[j] - expectedGrad);
          for (int64_t d = 0; d < D; ++d) {
            dq[qRow + d] += scale * scoreGrad * k[kRow + d];
            dk[kRow + d] += scale * scoreGrad * q[qRow + d];
            dv[kRow + d] += weights[j] * dout[qRow + d];
          }
        }
      }
    }
  }
}

/// Gradients of lmHeadLoss times dloss: with s = cap·tanh(z/cap) the
/// soft-capped logits of row r and N the rows not ignored,
/// dz = dloss·(softmax(s) − onehot(target))·(1 − tanh²(z/cap))/N (0 on
/// ignored rows), dx[rows, C] = dz · w[V, C] and dw[V, C] = dzᵀ · x.
template <typename Real>
void lmHeadLossBackward(const std::vector<Real> &x, const std::vector<Real> &w,
                        const std::vector<int32_t> &targets, double dloss,
                        int64_t C, int64_t V, float cap, int32_t ignoreIndex,
                        std::vector<double> &dx, std::vector<double> &dw) {
  const int64_t rows = static_cast<int64_t>(targets.size());
  const std::vector<double> z = linear(x, w, rows, C, V);
  const int64_t counted =
      std::count_if(targets.begin(), targets.end(),
                    [&](int32_t target) { return target != ignoreIndex; });
  std::vector<double> dz(rows * V, 0.0);
  std::vector<double> s(V);
  for (int64_t r = 0; r < rows; ++r) {
    if (targets[r] == ignoreIndex)
      continue;
    double maximum = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < V; ++j) {
      s[j] = cap * std::tanh(z[r * V + j] / cap);
      maximum = std::max(maximum, s[j]);
    }
    double sum = 0.0;
    for (int64_t j = 0; j < V; ++j)
      sum += std::exp(s[j] - maximum);
    for (int64_t j = 0; j < V; ++j) {
      const double softmax = std::exp(s[j] - maximum) / sum;
      const double tanh = s[j] / cap;
      dz[r * V + j] = dloss * (softmax - (j == targets[r] ? 1.0 : 0.0)) *
                      (1.0 - tanh * tanh) / counted;
    }
  }
  dx.assign(rows * C, 0.0);
  dw.assign(V * C, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < V; ++j)
      for (int64_t c = 0; c < C; ++c) {
        dx[r * C + c] += dz[r * V + j] * w[j * C + c];
        dw[j * C + c] += dz[r * V + j] * x[r * C + c];
      }
}

} // namespace gptc::cpu::ref

#endif // GPTC_TESTS_UNIT_CPU_REFERENCE_H
