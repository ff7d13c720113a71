//===- GeneratedPrograms.h - what gptc generates, as host code sees it -*- C++
//-*-===//
//
// The functions and ProgramInfos a generated C++ file defines, per mode.
// Each host main() includes this and uses the ones of its mode; argument
// order is the lowering's: parameters, inputs, outputs, then the arena.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_GENERATEDPROGRAMS_H
#define GPTC_BACKENDS_HOST_GENERATEDPROGRAMS_H

#include "backends/common/Program.h"

#include <cstdint>

// --mode=forward and --mode=train: the forward pass on tokens [B, T] with
// targets [B, T] (−1 = ignored): logits [B, T, V] and the mean loss.
extern const gptc::ProgramInfo forward_program;
void forward(char *params, int32_t *tokens, int32_t *targets, float *logits,
             float *loss, char *arena);

// --mode=train: the loss and every parameter's gradient, written into
// `grads`, a buffer laid out like the parameters (overwritten, not summed).
extern const gptc::ProgramInfo train_step_program;
void train_step(char *params, int32_t *tokens, int32_t *targets, float *loss,
                char *grads, char *arena);

// --mode=decode: both write the K/V of the new tokens of row r into cache
// slots lengths[r] .. lengths[r]+T-1 of every layer, attend each new token
// over the cached prefix (itself included), return the logits of the T new
// tokens and advance lengths[r] by T, without checking the capacity.
// prefill: tokens [1, Tc], caches [L, 1, Cap, Hkv, D], lengths [1], logits
// [1, Tc, V]; step: tokens [R, 1], caches [L, R, Cap, Hkv, D], lengths [R],
// logits [R, 1, V]. The caches and lengths are the decode state, `void *`
// at this ABI: the caches hold float or bfloat16 bits (uint16_t), as the
// "k_cache" input's dtype in the ProgramInfo says; the lengths are int32_t.
extern const gptc::ProgramInfo prefill_program;
extern const gptc::ProgramInfo step_program;
void prefill(char *params, int32_t *tokens, void *kCache, void *vCache,
             void *lengths, float *logits, char *arena);
void step(char *params, int32_t *tokens, void *kCache, void *vCache,
          void *lengths, float *logits, char *arena);

#endif // GPTC_BACKENDS_HOST_GENERATEDPROGRAMS_H
