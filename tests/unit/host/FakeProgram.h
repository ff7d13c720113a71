//===- FakeProgram.h - a stand-in for generated training code --*- C++ -*-===//
//
// FakeProgram.cpp defines what gptc generates for training (train_step,
// forward and their ProgramInfo) for a toy model, so the training host can
// be tested without the compiler. The model is a factored bigram model with
// nanochat's parameter names:
//   x = wte[token]            [C]
//   h = x + P (F x)           [C]
//   logits = lm_head h        [V]
// with F = mlp.c_fc.weight [4C, C] and P = mlp.c_proj.weight [C, 4C],
// and the mean cross-entropy over targets != -1, differentiated by hand.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_TESTS_UNIT_HOST_FAKEPROGRAM_H
#define GPTC_TESTS_UNIT_HOST_FAKEPROGRAM_H

#include "backends/common/Program.h"

#include <cstdint>

extern const gptc::ProgramInfo train_step_program;
extern const gptc::ProgramInfo forward_program;
void train_step(char *params, int32_t *tokens, int32_t *targets, float *loss,
                char *grads, char *arena);
void forward(char *params, int32_t *tokens, int32_t *targets, float *logits,
             float *loss, char *arena);

namespace fake {

constexpr int64_t B = 2, T = 16, V = 128, C = 8, H = 4 * C;

/// train_step calls since the last reset; from call `nanFromCall` on
/// (counting from 0; -1: never) the loss and gradients are NaN.
extern int64_t trainStepCalls;
extern int64_t nanFromCall;
/// The signal train_step call `signalAtCall` (-1: none) raises, as a user's
/// kill would arrive in the middle of a step.
extern int64_t signalAtCall;
extern int signalToRaise;

} // namespace fake

#endif // GPTC_TESTS_UNIT_HOST_FAKEPROGRAM_H
