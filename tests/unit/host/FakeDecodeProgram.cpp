//===- FakeDecodeProgram.cpp - a hand-written stand-in for decode code ----===//

#include "FakeDecodeProgram.h"

#include <iterator>

using namespace gptc;
using namespace fake::decode;

int64_t fake::decode::prefillCalls = 0;
int64_t fake::decode::stepCalls = 0;
int64_t fake::decode::inconsistentReads = 0;
int64_t fake::decode::overflows = 0;

namespace {

constexpr int64_t kWteOffset = 0;
constexpr int64_t kLmHeadOffset = kWteOffset + V * C * 4;
constexpr int64_t kParamBytes = kLmHeadOffset + V * C * 4;

const char kConfig[] =
    "{\"n_embd\":4,\"n_head\":2,\"n_kv_head\":2,\"n_layer\":2,"
    "\"name\":\"fake-decode\",\"sequence_len\":16,\"vocab_size\":128}";

const BufferInfo kParams[] = {
    {"transformer.wte.weight", ElementType::F32, 2, {V, C}, kWteOffset},
    {"lm_head.weight", ElementType::F32, 2, {V, C}, kLmHeadOffset},
};
const BufferInfo kPrefillInputs[] = {
    {"tokens", ElementType::I32, 2, {1, Tc}, 0},
    {"k_cache", ElementType::F32, 5, {L, 1, Cap, Hkv, D}, 0},
    {"v_cache", ElementType::F32, 5, {L, 1, Cap, Hkv, D}, 0},
    {"lengths", ElementType::I32, 1, {1}, 0},
};
const BufferInfo kPrefillOutputs[] = {{"logits", ElementType::F32, 3, {1, Tc, V}, 0}};
const BufferInfo kStepInputs[] = {
    {"tokens", ElementType::I32, 2, {R, 1}, 0},
    {"k_cache", ElementType::F32, 5, {L, R, Cap, Hkv, D}, 0},
    {"v_cache", ElementType::F32, 5, {L, R, Cap, Hkv, D}, 0},
    {"lengths", ElementType::I32, 1, {R}, 0},
};
const BufferInfo kStepOutputs[] = {{"logits", ElementType::F32, 3, {R, 1, V}, 0}};

/// What entry (l, h, d) of a slot adds to its token in k_cache.
float placeCode(int64_t l, int64_t h, int64_t d) {
  return float(1000 * ((l * Hkv + h) * D + d));
}

/// The index of entry (l, r, s, h, d) of a cache of `rows` rows.
int64_t entry(int64_t rows, int64_t l, int64_t r, int64_t s, int64_t h,
              int64_t d) {
  return (((l * rows + r) * Cap + s) * Hkv + h) * D + d;
}

/// Runs T new tokens per row (tokens [rows, T]) over caches
/// [L, rows, Cap, Hkv, D], writing logits [rows, T, V].
void run(const int32_t *tokens, int64_t rows, int64_t T, float *kCache,
         float *vCache, int32_t *lengths, float *logits) {
  for (int64_t r = 0; r < rows; ++r) {
    if (lengths[r] + T > Cap) {
      ++overflows;
      continue;
    }
    for (int64_t t = 0; t < T; ++t) {
      const int64_t slot = lengths[r] + t;
      const float token = float(tokens[r * T + t]);
      for (int64_t l = 0; l < L; ++l)
        for (int64_t h = 0; h < Hkv; ++h)
          for (int64_t d = 0; d < D; ++d) {
            int64_t i = entry(rows, l, r, slot, h, d);
            kCache[i] = token + placeCode(l, h, d);
            vCache[i] = token - placeCode(l, h, d);
          }
      int64_t sum = 0;
      for (int64_t s = 0; s <= slot; ++s) {
        const float seen = kCache[entry(rows, 0, r, s, 0, 0)];
        bool consistent = true;
        for (int64_t l = 0; l < L; ++l)
          for (int64_t h = 0; h < Hkv; ++h)
            for (int64_t d = 0; d < D; ++d) {
              int64_t i = entry(rows, l, r, s, h, d);
              consistent = consistent &&
                           kCache[i] - placeCode(l, h, d) == seen &&
                           vCache[i] + placeCode(l, h, d) == seen;
            }
        inconsistentReads += !consistent;
        sum += int64_t(seen);
      }
      float *row = logits + (r * T + t) * V; // [V]
      for (int64_t v = 0; v < V; ++v)
        row[v] = logit(sum, v);
    }
    lengths[r] += int32_t(T);
  }
}

} // namespace

void fake::decode::reset() {
  prefillCalls = stepCalls = inconsistentReads = overflows = 0;
}

float fake::decode::logit(int64_t sum, int64_t v) {
  int64_t favoured = (sum + 1) % V;
  return -0.5f * float((v - favoured + V) % V);
}

extern const ProgramInfo prefill_program = {
    "prefill",       kConfig,
    kParamBytes,     /*arenaBytes=*/64,
    kParams,         std::size(kParams),
    kPrefillInputs,  std::size(kPrefillInputs),
    kPrefillOutputs, std::size(kPrefillOutputs)};

extern const ProgramInfo step_program = {"step",       kConfig,
                                         kParamBytes,  /*arenaBytes=*/128,
                                         kParams,      std::size(kParams),
                                         kStepInputs,  std::size(kStepInputs),
                                         kStepOutputs, std::size(kStepOutputs)};

void prefill(char *params, int32_t *tokens, void *kCache, void *vCache,
             void *lengths, float *logits, char *arena) {
  ++prefillCalls;
  run(tokens, 1, Tc, static_cast<float *>(kCache), static_cast<float *>(vCache),
      static_cast<int32_t *>(lengths), logits);
}

void step(char *params, int32_t *tokens, void *kCache, void *vCache,
          void *lengths, float *logits, char *arena) {
  ++stepCalls;
  run(tokens, R, 1, static_cast<float *>(kCache), static_cast<float *>(vCache),
      static_cast<int32_t *>(lengths), logits);
}
