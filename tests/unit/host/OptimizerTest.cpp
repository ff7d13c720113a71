//===- OptimizerTest.cpp - schedule, clipping, AdamW, Newton-Schulz, Muon -===//

#include "backends/host/Optimizer.h"

#include "FakeProgram.h"
#include "backends/host/HostCommon.h"
#include "backends/host/Random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace gptc;
using namespace gptc::host;

namespace {

/// Row-major double matrices for the references.
using Matrix = std::vector<double>;

/// [n, m] = [n, k] x [k, m].
Matrix matmul(const Matrix &a, const Matrix &b, int64_t n, int64_t k,
              int64_t m) {
  Matrix c(n * m, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t l = 0; l < k; ++l)
      for (int64_t j = 0; j < m; ++j)
        c[i * m + j] += a[i * k + l] * b[l * m + j];
  return c;
}

/// [cols, rows] = [rows, cols]^T.
Matrix transposed(const Matrix &a, int64_t rows, int64_t cols) {
  Matrix t(rows * cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      t[j * rows + i] = a[i * cols + j];
  return t;
}

/// The eigenvalues of the symmetric [n, n] matrix `a`, ascending, by cyclic
/// Jacobi rotations.
std::vector<double> symmetricEigenvalues(Matrix a, int64_t n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q)
        off += a[p * n + q] * a[p * n + q];
    if (off < 1e-26)
      break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        if (a[p * n + q] == 0)
          continue;
        double theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
        double t = (theta >= 0 ? 1.0 : -1.0) /
                   (std::fabs(theta) + std::sqrt(theta * theta + 1));
        double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) { // columns p, q
          double kp = a[k * n + p], kq = a[k * n + q];
          a[k * n + p] = c * kp - s * kq;
          a[k * n + q] = s * kp + c * kq;
        }
        for (int64_t k = 0; k < n; ++k) { // rows p, q
          double pk = a[p * n + k], qk = a[q * n + k];
          a[p * n + k] = c * pk - s * qk;
          a[q * n + k] = s * pk + c * qk;
        }
      }
  }
  std::vector<double> eigenvalues(n);
  for (int64_t i = 0; i < n; ++i)
    eigenvalues[i] = a[i * n + i];
  std::sort(eigenvalues.begin(), eigenvalues.end());
  return eigenvalues;
}

/// The singular values of the wide [rows, cols] matrix `x`, ascending.
std::vector<double> singularValues(const Matrix &x, int64_t rows,
                                   int64_t cols) {
  std::vector<double> values = symmetricEigenvalues(
      matmul(x, transposed(x, rows, cols), rows, cols, rows), rows);
  for (double &value : values)
    value = std::sqrt(std::max(value, 0.0));
  return values;
}

/// nanochat's Muon step in double precision: the reference for muonUpdate.
void referenceMuon(Matrix &param, const Matrix &grad, Matrix &momentum,
                   int64_t rows, int64_t cols, double lr) {
  const double mu = 0.95, a = 3.4445, b = -4.7750, c = 2.0315;
  Matrix g(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) {
    momentum[i] += (1 - mu) * (grad[i] - momentum[i]);
    g[i] = grad[i] + mu * (momentum[i] - grad[i]);
  }
  const bool tall = rows > cols;
  const int64_t r = std::min(rows, cols), n = std::max(rows, cols);
  Matrix x = tall ? transposed(g, rows, cols) : g; // [r, n]
  double norm = 0;
  for (double v : x)
    norm += v * v;
  for (double &v : x)
    v /= std::sqrt(norm) + 1e-7;
  for (int step = 0; step < 5; ++step) {
    Matrix A = matmul(x, transposed(x, r, n), r, n, r);
    Matrix AA = matmul(A, A, r, r, r);
    Matrix B(r * r);
    for (int64_t i = 0; i < r * r; ++i)
      B[i] = b * A[i] + c * AA[i];
    Matrix Bx = matmul(B, x, r, r, n);
    for (int64_t i = 0; i < r * n; ++i)
      x[i] = a * x[i] + Bx[i];
  }
  Matrix update = tall ? transposed(x, r, n) : x;
  double scale = lr * std::sqrt(std::max(1.0, double(rows) / double(cols)));
  for (int64_t i = 0; i < rows * cols; ++i)
    param[i] -= scale * update[i];
}

std::vector<float> randomMatrix(int64_t n, uint64_t seed, double std = 1.0) {
  Rng rng(seed);
  std::vector<float> values(n);
  for (float &value : values)
    value = float(std * rng.normal());
  return values;
}

TEST(Schedule, ConstantThenLinearWarmdownOverTheLastFifth) {
  for (int64_t step : {0, 1, 50, 79, 80})
    EXPECT_EQ(lrMultiplier(step, 100), 1.0) << step;
  EXPECT_DOUBLE_EQ(lrMultiplier(81, 100), 19.0 / 20.0);
  EXPECT_DOUBLE_EQ(lrMultiplier(90, 100), 0.5);
  EXPECT_DOUBLE_EQ(lrMultiplier(99, 100), 0.05);
  EXPECT_DOUBLE_EQ(lrMultiplier(8, 10), 1.0);
  EXPECT_DOUBLE_EQ(lrMultiplier(9, 10), 0.5);
  EXPECT_EQ(lrMultiplier(0, 1), 1.0);
}

TEST(Clipping, GlobalNormOverAllParametersClippedToOne) {
  const ProgramInfo &program = train_step_program;
  AlignedBuffer grads = allocateBuffer(program.paramBytes);
  // 3 in one parameter and 4 in another: norm 5.
  view<float>(grads.get(), program.params[0].offset)[5] = 3;
  view<float>(grads.get(), program.params[3].offset)[7] = -4;
  EXPECT_DOUBLE_EQ(clipGradNorm(program, grads.get(), 1.0), 5.0);
  double factor = 1.0 / (5.0 + 1e-6);
  EXPECT_FLOAT_EQ(view<float>(grads.get(), program.params[0].offset)[5],
                  float(3 * factor));
  EXPECT_FLOAT_EQ(view<float>(grads.get(), program.params[3].offset)[7],
                  float(-4 * factor));
  EXPECT_NEAR(clipGradNorm(program, grads.get(), 1.0), 1.0, 1e-6);

  // Below the limit nothing changes.
  view<float>(grads.get(), program.params[0].offset)[5] = 0.3f;
  view<float>(grads.get(), program.params[3].offset)[7] = 0.4f;
  EXPECT_NEAR(clipGradNorm(program, grads.get(), 1.0), 0.5, 1e-7);
  EXPECT_EQ(view<float>(grads.get(), program.params[0].offset)[5], 0.3f);

  view<float>(grads.get(), program.params[1].offset)[0] = NAN;
  EXPECT_TRUE(std::isnan(clipGradNorm(program, grads.get(), 1.0)));
}

TEST(Clipping, SumOfSquaresDoesNotDependOnTheThreadCount) {
  std::vector<float> x = randomMatrix(300001, 5);
  double reference = 0;
  for (float v : x)
    reference += double(v) * v;
  double sum = sumOfSquares(x.data(), int64_t(x.size()));
  EXPECT_NEAR(sum, reference, 1e-9 * reference);
  EXPECT_EQ(sum, sumOfSquares(x.data(), int64_t(x.size())));
}

TEST(AdamW, TwoStepsMatchHandComputedValues) {
  // torch.optim.AdamW with betas (0.8, 0.95), eps 1e-10, lr 0.1, no weight
  // decay. Step 1: m^ = g and v^ = g^2, so each element moves by lr * sign(g)
  // (and not at all for g = 0).
  std::vector<float> param = {1, 1, 1}, m(3, 0), v(3, 0);
  std::vector<float> g1 = {0.5f, -2, 0};
  adamwUpdate(param.data(), g1.data(), m.data(), v.data(), 3,
              adamwStep(0.1, 1));
  EXPECT_FLOAT_EQ(param[0], 0.9f);
  EXPECT_FLOAT_EQ(param[1], 1.1f);
  EXPECT_FLOAT_EQ(param[2], 1.0f);
  EXPECT_FLOAT_EQ(m[1], -0.4f);
  EXPECT_FLOAT_EQ(v[1], 0.2f);
  // Step 2, e.g. element 0: m = 0.8 * 0.1 + 0.2 * 1 = 0.28, v = 0.95 *
  // 0.0125 + 0.05 = 0.061875, p = 0.9 - 0.1 / 0.36 * 0.28 /
  // sqrt(0.061875 / 0.0975) = 0.80236619.
  std::vector<float> g2 = {1, 0.25f, -3};
  adamwUpdate(param.data(), g2.data(), m.data(), v.data(), 3,
              adamwStep(0.1, 2));
  EXPECT_NEAR(param[0], 0.80236619, 1e-6);
  EXPECT_NEAR(param[1], 1.15328983, 1e-6);
  EXPECT_NEAR(param[2], 1.07757911, 1e-6);
}

TEST(NewtonSchulz, SingularValuesOfARandomMatrixEndNearOne) {
  // NS5 maps each singular value s of X = G / ||G||_F through the quintic
  // p(s) = a s + b s^3 + c s^5 five times (X = U S V^T gives X X^T X = U S^3
  // V^T). Frobenius normalisation puts every s in (0, 1]; a 32x64 Gaussian
  // matrix's normalised singular values lie near the Marchenko-Pastur edges
  // (8 -+ sqrt(32)) / sqrt(2048), i.e. in about [0.05, 0.30]. p^5 maps all of
  // [0.01, 1] into [0.68, 1.14] (the coefficients trade exactness for speed),
  // so float rounding aside the output's singular values lie in [0.6, 1.3].
  const int64_t rows = 32, cols = 64;
  std::vector<float> g = randomMatrix(rows * cols, 1), out(rows * cols);
  DeviceBuffer scratch;
  newtonSchulz5(g.data(), out.data(), rows, cols, scratch);

  std::vector<double> after =
      singularValues(Matrix(out.begin(), out.end()), rows, cols);
  EXPECT_GE(after.front(), 0.6);
  EXPECT_LE(after.back(), 1.3);

  // Each singular value follows p^5 of its input value.
  Matrix normalized(g.begin(), g.end());
  double norm = 0;
  for (double v : normalized)
    norm += v * v;
  for (double &v : normalized)
    v /= std::sqrt(norm);
  std::vector<double> before = singularValues(normalized, rows, cols);
  EXPECT_GT(before.front(), 0.01);
  for (double &s : before)
    for (int step = 0; step < 5; ++step)
      s = 3.4445 * s - 4.7750 * s * s * s + 2.0315 * std::pow(s, 5);
  std::sort(before.begin(), before.end());
  for (int64_t i = 0; i < rows; ++i)
    EXPECT_NEAR(after[i], before[i], 2e-3) << i;
}

TEST(NewtonSchulz, TallMatricesAreOrthogonalisedTransposed) {
  const int64_t rows = 40, cols = 12;
  std::vector<float> g = randomMatrix(rows * cols, 2);
  std::vector<float> gT(rows * cols), out(rows * cols), outT(rows * cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      gT[j * rows + i] = g[i * cols + j];
  DeviceBuffer scratch;
  newtonSchulz5(g.data(), out.data(), rows, cols, scratch);
  newtonSchulz5(gT.data(), outT.data(), cols, rows, scratch);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      ASSERT_EQ(out[i * cols + j], outT[j * rows + i]);
}

TEST(Muon, StepsMatchADoublePrecisionReference) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{24, 12}, {8, 32}}) {
    const int64_t n = rows * cols;
    std::vector<float> param = randomMatrix(n, 3, 0.1), momentum(n, 0.0f);
    Matrix refParam(param.begin(), param.end()), refMomentum(n, 0.0);
    DeviceBuffer scratch;
    for (int step = 0; step < 3; ++step) {
      std::vector<float> grad = randomMatrix(n, 10 + step, 0.01);
      muonUpdate(param.data(), grad.data(), momentum.data(), rows, cols,
                 muonStep(0.02, rows, cols), scratch);
      referenceMuon(refParam, Matrix(grad.begin(), grad.end()), refMomentum,
                    rows, cols, 0.02);
    }
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(param[i], refParam[i], 2e-6) << rows << "x" << cols;
      ASSERT_NEAR(momentum[i], refMomentum[i], 1e-8);
    }
  }
}

TEST(Optimizer, RulesAndLearningRatesPerParameter) {
  // The fake model: C = 8, so s = (8 / 768)^-0.5 = sqrt(96).
  const ProgramInfo &program = train_step_program;
  const double s = std::sqrt(96.0);
  for (OptimizerKind kind : {OptimizerKind::Muon, OptimizerKind::AdamW}) {
    Expected<Optimizer> optimizer = Optimizer::create(program, kind, 8, 0.5);
    ASSERT_TRUE(optimizer.ok()) << optimizer.status().message();
    AlignedBuffer params = allocateBuffer(program.paramBytes);
    AlignedBuffer grads = allocateBuffer(program.paramBytes);
    // A positive gradient everywhere: AdamW's first step moves each element
    // by exactly its learning rate.
    for (size_t i = 0; i < program.numParams; ++i) {
      float *g = view<float>(grads.get(), program.params[i].offset);
      std::fill(g, g + program.params[i].numel(), 1e-3f);
    }
    optimizer->step(params.get(), grads.get(), /*lrMultiplier=*/0.5,
                    /*stepsBefore=*/0);
    auto firstValue = [&](size_t param) {
      return view<float>(params.get(), program.params[param].offset)[0];
    };
    EXPECT_NEAR(firstValue(0), -0.2 * s * 0.5 * 0.5, 1e-5);   // wte
    EXPECT_NEAR(firstValue(3), -0.004 * s * 0.5 * 0.5, 1e-6); // lm_head
    if (kind == OptimizerKind::AdamW) {
      EXPECT_NEAR(firstValue(1), -3e-3 * s * 0.5 * 0.5, 1e-6);
    } else {
      // Muon on an all-equal [32, 8] gradient: normalised, it has the one
      // singular value 1, which NS5 maps to p^5(1) = 0.69644, so each element
      // becomes 0.69644 / sqrt(32 * 8); the step scales it by sqrt(32 / 8).
      EXPECT_NEAR(firstValue(1), -0.02 * 0.5 * 0.5 * 2 * 0.69644 / 16, 1e-6);
    }
    std::vector<float> values = optimizer->downloadState();
    std::vector<TensorRef> state = optimizer->stateTensors(values);
    ASSERT_EQ(state.size(), kind == OptimizerKind::Muon ? 6u : 8u);
    EXPECT_EQ(state[0].name, "optim.m.transformer.wte.weight");
    EXPECT_EQ(state[2].name, kind == OptimizerKind::Muon
                                 ? "optim.momentum.transformer.h.0.mlp.c_fc."
                                   "weight"
                                 : "optim.m.transformer.h.0.mlp.c_fc.weight");
  }
}

TEST(Optimizer, ParametersOutsideTheRulesAreRefused) {
  const BufferInfo params[] = {
      {"transformer.wte.weight", ElementType::F32, 2, {4, 2}, 0},
      {"transformer.h.0.attn.scale", ElementType::F32, 1, {2}, 32, 0},
  };
  ProgramInfo program = {"p", "{}", 40, 0, params, 2, nullptr, 0, nullptr, 0};
  Expected<Optimizer> optimizer =
      Optimizer::create(program, OptimizerKind::Muon, 2, 1.0);
  ASSERT_FALSE(optimizer.ok());
  EXPECT_EQ(optimizer.status().message(),
            "parameter 'transformer.h.0.attn.scale' [2] fits no optimizer "
            "rule: transformer.wte.weight, lm_head.weight or a matrix of a "
            "transformer block");
}

// The group of a block matrix is its layer, not its name: a matrix outside
// the blocks is refused whatever it is called.
TEST(Optimizer, BlockMatricesAreThoseWithALayer) {
  const BufferInfo params[] = {
      {"transformer.h.0.mlp.c_fc.weight", ElementType::F32, 2, {4, 2}, 0},
  };
  ProgramInfo program = {"p", "{}", 32, 0, params, 1, nullptr, 0, nullptr, 0};
  Expected<Optimizer> optimizer =
      Optimizer::create(program, OptimizerKind::Muon, 2, 1.0);
  ASSERT_FALSE(optimizer.ok());
  EXPECT_EQ(optimizer.status().message(),
            "parameter 'transformer.h.0.mlp.c_fc.weight' [4, 2] fits no "
            "optimizer rule: transformer.wte.weight, lm_head.weight or a "
            "matrix of a transformer block");

  const BufferInfo named[] = {{"blocks.0.w", ElementType::F32, 2, {4, 2}, 0, 0}};
  program.params = named;
  optimizer = Optimizer::create(program, OptimizerKind::Muon, 2, 1.0);
  ASSERT_TRUE(optimizer.ok()) << optimizer.status().message();
  EXPECT_NE(optimizer->describe().find("1 matrices under transformer.h. muon"),
            std::string::npos)
      << optimizer->describe();
}

} // namespace
