//===- Init.h - nanochat's initial weights ----------------------*- C++ -*-===//
//
// A fresh training run starts from nanochat's classic initialisation:
// transformer.wte.weight ~ N(0, 1); lm_head.weight and every attn.c_proj /
// mlp.c_proj weight zero; every other Linear weight [out, in] ~ N(0, std)
// with std = 1/sqrt(in) * min(1, sqrt(out / in)).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_INIT_H
#define GPTC_BACKENDS_HOST_INIT_H

#include "backends/common/Program.h"
#include "backends/common/Status.h"

#include <cstdint>

namespace gptc::host {

/// Writes the initial value of every parameter of `program` into `params`,
/// each drawn from its own stream of `seed` (so a parameter's values do not
/// depend on the order of the parameter buffer). Errors name a parameter
/// that is not a matrix.
Status initParameters(const ProgramInfo &program, uint64_t seed, char *params);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_INIT_H
