//===- FakeProgram.cpp - a hand-written stand-in for generated code -------===//

#include "FakeProgram.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <iterator>
#include <limits>
#include <vector>

using namespace gptc;
using namespace fake;

int64_t fake::trainStepCalls = 0;
int64_t fake::nanFromCall = -1;
int64_t fake::signalAtCall = -1;
int fake::signalToRaise = 0;

namespace {

constexpr int64_t kWteOffset = 0;
constexpr int64_t kFcOffset = kWteOffset + V * C * 4;
constexpr int64_t kProjOffset = kFcOffset + H * C * 4;
constexpr int64_t kLmHeadOffset = kProjOffset + C * H * 4;
constexpr int64_t kParamBytes = kLmHeadOffset + V * C * 4;

const char kConfig[] =
    "{\"n_embd\":8,\"n_head\":1,\"n_kv_head\":1,\"n_layer\":1,"
    "\"name\":\"fake\",\"sequence_len\":16,\"vocab_size\":128}";

const BufferInfo kParams[] = {
    {"transformer.wte.weight", ElementType::F32, 2, {V, C}, kWteOffset},
    {"transformer.h.0.mlp.c_fc.weight",
     ElementType::F32,
     2,
     {H, C},
     kFcOffset,
     0},
    {"transformer.h.0.mlp.c_proj.weight",
     ElementType::F32,
     2,
     {C, H},
     kProjOffset,
     0},
    {"lm_head.weight", ElementType::F32, 2, {V, C}, kLmHeadOffset},
};
const BufferInfo kInputs[] = {
    {"tokens", ElementType::I32, 2, {B, T}, 0},
    {"targets", ElementType::I32, 2, {B, T}, 0},
};
const BufferInfo kTrainOutputs[] = {{"loss", ElementType::F32, 0, {}, 0}};
const BufferInfo kForwardOutputs[] = {
    {"logits", ElementType::F32, 3, {B, T, V}, 0},
    {"loss", ElementType::F32, 0, {}, 0},
};

/// Runs the model on every position; with `grads`, also the backward pass.
/// Returns the mean loss over targets != -1.
float run(char *params, const int32_t *tokens, const int32_t *targets,
          float *logitsOut, char *grads) {
  const float *wte = view<float>(params, kWteOffset);       // [V, C]
  const float *fc = view<float>(params, kFcOffset);         // [4C, C]
  const float *proj = view<float>(params, kProjOffset);     // [C, 4C]
  const float *lmHead = view<float>(params, kLmHeadOffset); // [V, C]
  int64_t count = 0;
  for (int64_t i = 0; i < B * T; ++i)
    count += targets[i] >= 0;
  if (grads)
    std::memset(grads, 0, kParamBytes);
  double lossSum = 0;
  for (int64_t i = 0; i < B * T; ++i) {
    const float *x = wte + tokens[i] * C;
    // u = F x [4C], h = x + P u [C], z = lm_head h [V]
    std::vector<double> u(H, 0.0), h(x, x + C), z(V, 0.0);
    for (int64_t j = 0; j < H; ++j)
      for (int64_t k = 0; k < C; ++k)
        u[j] += fc[j * C + k] * x[k];
    for (int64_t j = 0; j < C; ++j)
      for (int64_t k = 0; k < H; ++k)
        h[j] += proj[j * H + k] * u[k];
    double maxZ = -1e300;
    for (int64_t v = 0; v < V; ++v) {
      for (int64_t k = 0; k < C; ++k)
        z[v] += lmHead[v * C + k] * h[k];
      maxZ = std::max(maxZ, z[v]);
      if (logitsOut)
        logitsOut[i * V + v] = float(z[v]);
    }
    if (targets[i] < 0)
      continue;
    double sumExp = 0;
    for (int64_t v = 0; v < V; ++v)
      sumExp += std::exp(z[v] - maxZ);
    lossSum += maxZ + std::log(sumExp) - z[targets[i]];
    if (!grads)
      continue;

    float *dWte = view<float>(grads, kWteOffset);
    float *dFc = view<float>(grads, kFcOffset);
    float *dProj = view<float>(grads, kProjOffset);
    float *dLmHead = view<float>(grads, kLmHeadOffset);
    std::vector<double> dh(C, 0.0), du(H, 0.0), dx(C, 0.0); // [C], [4C], [C]
    for (int64_t v = 0; v < V; ++v) {
      double dz = (std::exp(z[v] - maxZ) / sumExp - (v == targets[i])) / count;
      for (int64_t k = 0; k < C; ++k) {
        dLmHead[v * C + k] += float(dz * h[k]);
        dh[k] += lmHead[v * C + k] * dz;
      }
    }
    for (int64_t j = 0; j < C; ++j)
      for (int64_t k = 0; k < H; ++k) {
        dProj[j * H + k] += float(dh[j] * u[k]);
        du[k] += proj[j * H + k] * dh[j];
      }
    for (int64_t k = 0; k < C; ++k)
      dx[k] = dh[k];
    for (int64_t j = 0; j < H; ++j)
      for (int64_t k = 0; k < C; ++k) {
        dFc[j * C + k] += float(du[j] * x[k]);
        dx[k] += fc[j * C + k] * du[j];
      }
    for (int64_t k = 0; k < C; ++k)
      dWte[tokens[i] * C + k] += float(dx[k]);
  }
  return float(lossSum / double(std::max<int64_t>(count, 1)));
}

} // namespace

extern const ProgramInfo train_step_program = {
    "train_step",  kConfig,
    kParamBytes,   /*arenaBytes=*/256,
    kParams,       std::size(kParams),
    kInputs,       std::size(kInputs),
    kTrainOutputs, std::size(kTrainOutputs)};

extern const ProgramInfo forward_program = {
    "forward",       kConfig,
    kParamBytes,     /*arenaBytes=*/128,
    kParams,         std::size(kParams),
    kInputs,         std::size(kInputs),
    kForwardOutputs, std::size(kForwardOutputs)};

void train_step(char *params, int32_t *tokens, int32_t *targets, float *loss,
                char *grads, char *arena) {
  *loss = run(params, tokens, targets, nullptr, grads);
  if (nanFromCall >= 0 && trainStepCalls >= nanFromCall) {
    *loss = std::numeric_limits<float>::quiet_NaN();
    float *g = view<float>(grads, 0);
    std::fill(g, g + kParamBytes / 4, *loss);
  }
  if (trainStepCalls == signalAtCall)
    std::raise(signalToRaise);
  ++trainStepCalls;
}

void forward(char *params, int32_t *tokens, int32_t *targets, float *logits,
             float *loss, char *arena) {
  *loss = run(params, tokens, targets, logits, nullptr);
}
