//===- Reference.h - double-precision kernel references --------*- C++ -*-===//
//
// Plain, deliberately naive implementations of the CPU kernels in double
// precision, written from the kernels' specifications and not from their
// code, plus seeded random inputs and a tolerance check. Used only by the
// kernel tests. Shapes use llm.c letters as in backends/cpu/Kernels.h.
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

/// Success when got and want have the same size and every element satisfies
/// |got - want| <= atol + rtol·|want| (a NaN anywhere is a mismatch);
/// otherwise a failure naming the mismatch count and the worst element.
inline ::testing::AssertionResult allClose(const std::vector<float> &got,
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
inline std::vector<double> linear(const std::vector<float> &x,
                                  const std::vector<float> &w, int64_t rows,
                                  int64_t in, int64_t out) {
  std::vector<double> y(rows * out, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i)
        y[r * out + o] += static_cast<double>(x[r * in + i]) * w[o * in + i];
  return y;
}

/// out[n, C] = table[V, C][ids[n], :].
inline std::vector<double> embedding(const std::vector<float> &table,
                                     const std::vector<int32_t> &ids,
                                     int64_t C) {
  std::vector<double> out;
  for (int32_t id : ids)
    for (int64_t c = 0; c < C; ++c)
      out.push_back(table[id * C + c]);
  return out;
}

/// y[rows, cols] = x / sqrt(mean(x²) + eps) per row.
inline std::vector<double> rmsNorm(const std::vector<float> &x, int64_t rows,
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

/// Rotary embedding of x[B, T, H, D]. The cos/sin tables follow the
/// specification literally (float32 inverse frequencies and angles, as
/// torch computes nanochat's buffers, optionally rounded to bfloat16); the
/// rotation itself is done in double. With exactAngles the tables are
/// instead cos/sin of the exact angle t / base^(2j/D) in double.
inline std::vector<double> rope(const std::vector<float> &x, int64_t B,
                                int64_t T, int64_t H, int64_t D, float base,
                                bool roundToBf16, bool exactAngles = false) {
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
      sinTable[t * half + j] = s;
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
inline double crossEntropy(const std::vector<float> &logits,
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
inline std::vector<double>
causalAttention(const std::vector<float> &q, const std::vector<float> &k,
                const std::vector<float> &v, int64_t B, int64_t T, int64_t H,
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

} // namespace gptc::cpu::ref

#endif // GPTC_TESTS_UNIT_CPU_REFERENCE_H
