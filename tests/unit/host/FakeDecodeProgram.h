//===- FakeDecodeProgram.h - stand-in for generated decode code -*- C++ -*-===//
//
// FakeDecodeProgram.cpp defines what gptc generates for decoding (prefill,
// step and their ProgramInfo) for a toy model, so the decode host can be
// tested without the compiler. Like the real programs, both write the K/V of
// the new tokens of row r into cache slots lengths[r] .. lengths[r]+T-1 of
// every layer, let each new token see the slots up to its own, and advance
// lengths[r] by T. Each cache entry encodes its token and its place:
//   k_cache[l, r, s, h, d] = token + 1000 (l Hkv D + h D + d)
//   v_cache[l, r, s, h, d] = token - 1000 (l Hkv D + h D + d)
// and a new token's logits are logit(sum of the tokens in the slots it
// sees, v): the model favours (sum + 1) mod V. A slot whose entries do not
// all encode the same token (a wrong fork, a copy into the wrong layer or
// slot, an empty slot read) is counted, so are calls that would write past
// the capacity. The parameters (named like nanochat's) are not used.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_TESTS_UNIT_HOST_FAKEDECODEPROGRAM_H
#define GPTC_TESTS_UNIT_HOST_FAKEDECODEPROGRAM_H

#include "backends/host/GeneratedPrograms.h"

#include <cstdint>

namespace fake::decode {

constexpr int64_t V = 128, L = 2, Hkv = 2, D = 2, C = 4;
constexpr int64_t Cap = 16, Tc = 4, R = 3;

/// Calls since the last reset().
extern int64_t prefillCalls, stepCalls;
/// Cache slots read whose entries do not all encode one token.
extern int64_t inconsistentReads;
/// Rows of calls that would have written past the capacity (skipped).
extern int64_t overflows;
void reset();

/// The logit of token v after tokens summing to `sum`: 0 for
/// (sum + 1) mod V, falling by 0.5 per id after it, cyclically.
float logit(int64_t sum, int64_t v);

} // namespace fake::decode

#endif // GPTC_TESTS_UNIT_HOST_FAKEDECODEPROGRAM_H
